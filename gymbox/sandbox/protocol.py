"""The sandbox's wire format: `POST /execute` takes an `ExecuteRequest` and answers an `Execution`."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

# ok: exited 0. error: exited non-zero. timeout: killed at the wall-time limit. cpu_limit: killed for
# using up its CPU seconds. killed: ended by another signal (a memory limit seen by the kernel, a file
# larger than allowed, its own kill).
ExecutionStatus = Literal["ok", "error", "timeout", "cpu_limit", "killed"]


class InvalidRequest(ValueError):
    """A request the sandbox will not run: bad limits, or a file name it cannot create as given."""


def _utf8(text: str, what: str) -> str:
    try:
        text.encode()
    except UnicodeEncodeError as exc:
        raise ValueError(f"{what} is not valid Unicode (a lone surrogate at character {exc.start})") from None
    return text


class Limits(BaseModel):
    """What one run may use. A request may ask for less than the server's limits, never more."""

    model_config = ConfigDict(extra="forbid")

    wall_s: float = Field(default=10.0, gt=0, le=3600, description="wall-clock time, queueing excluded")
    cpu_s: int = Field(default=10, ge=1, le=3600, description="CPU seconds (RLIMIT_CPU)")
    memory_mb: int = Field(default=512, ge=16, le=65536, description="address space (RLIMIT_AS)")
    processes: int = Field(
        default=64, ge=1, le=4096, description="processes and threads of the sandbox's user (RLIMIT_NPROC)"
    )
    file_mb: int = Field(default=16, ge=1, le=4096, description="largest file a run may write (RLIMIT_FSIZE)")
    open_files: int = Field(default=64, ge=16, le=4096, description="open file descriptors (RLIMIT_NOFILE)")
    output_kb: int = Field(default=64, ge=1, le=16384, description="stdout and stderr returned, each")

    def capped_by(self, ceiling: Limits) -> Limits:
        return Limits(**{name: min(getattr(self, name), getattr(ceiling, name)) for name in Limits.model_fields})


class ExecuteRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    code: str = Field(description="a Python program, run as `python -I -B main.py` in a fresh temp folder")
    stdin: str = ""
    files: dict[str, str] = Field(default_factory=dict, description="extra text files beside main.py")
    limits: dict[str, float] = Field(default_factory=dict, description="fields of Limits to lower for this run")

    @field_validator("code", "stdin")
    @classmethod
    def _text_is_unicode(cls, text: str) -> str:
        return _utf8(text, "the text")

    @field_validator("files")
    @classmethod
    def _files_are_unicode(cls, files: dict[str, str]) -> dict[str, str]:
        for name, text in files.items():
            _utf8(name, "a file name")
            _utf8(text, f"file {name!r}")
        return files


class Execution(BaseModel):
    status: ExecutionStatus
    exit_code: int | None = Field(description="the exit status, or None when a signal ended it")
    signal: str | None = Field(default=None, description="e.g. SIGKILL, when a signal ended it")
    stdout: str = ""
    stderr: str = ""
    stdout_truncated: bool = False
    stderr_truncated: bool = False
    wall_s: float = 0.0
    cpu_s: float = 0.0
    max_rss_mb: float = 0.0
    leftover_processes: int = Field(default=0, description="processes still alive at the end, then killed")
    rerun_alone: bool = Field(
        default=False,
        description="a first run reached the wall-time limit while other runs held the CPU; this is the run "
        "given again with the sandbox to itself",
    )

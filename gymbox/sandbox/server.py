"""`python_sandbox`: the `sandboxes` implementation that serves the executor over HTTP.

POST /execute  ExecuteRequest -> Execution   (400 for a request it will not run, 413 for oversized code,
               422 for a malformed one, 503 when it cannot run it honestly: no clean slot, no disk space,
               a run that will not die; the client turns 503 into an infrastructure error, never a zero)
GET  /status   runs in flight, queued, done, refused, starved runs given again alone, slots set aside,
               leftover processes killed so far
"""

from __future__ import annotations

import logging
import os
import shutil
import stat
import sys
import tempfile
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from gymbox.sandbox.executor import Executor
from gymbox.sandbox.processes import become_subreaper
from gymbox.sandbox.protocol import ExecuteRequest, Execution, InvalidRequest, Limits
from gymbox.sandbox.seccomp import forbid_new_privileges, make_undumpable
from gymbox.sandbox.signals import guard_shutdown_signals
from gymbox.sandbox.slots import ROOT_ENV, SandboxUnavailable, Slots, random_uid_base
from gymbox.servers.app import ToolError, create_app

log = logging.getLogger("gymbox.sandbox")


def others_can_run(program: str) -> bool:
    """Whether a user other than its owner can reach and run `program` (an interpreter under a
    mode-700 home folder cannot be a run user's)."""
    path = Path(os.path.realpath(program))
    return all(p.stat().st_mode & stat.S_IXOTH for p in (path, *path.parents))


class PythonSandboxConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limits: Limits = Field(default_factory=Limits, description="per run; requests may lower them")
    max_concurrency: int = Field(default=4, ge=1, le=256, description="runs at once; more wait in line")
    max_code_kb: int = Field(default=512, ge=1, description="largest code + files + stdin accepted")
    isolate_users: bool | None = Field(
        default=None,
        description="run each concurrent run as a user of its own (needs root with CAP_SETUID, CAP_SETGID, "
        "CAP_CHOWN, CAP_KILL, CAP_DAC_OVERRIDE and CAP_FOWNER, as the container has); None: when running as "
        "root and other users may run this interpreter",
    )
    run_uid_base: int | None = Field(
        default=None, ge=1000, description="first of the max_concurrency run uids; None: a random block above 100000"
    )
    disk_mb: int = Field(default=64, ge=1, description="size of each run's folder (a tmpfs per slot in the container)")
    min_free_mb: int = Field(
        default=4, ge=0, description="free space a run's folder must have before a run, else 503 (not a zero)"
    )
    contain_orphans: bool | None = Field(
        default=None,
        description="become the child subreaper and kill our children that fled a run's session; "
        "and take SIGTERM/SIGINT only from outside the runs (gymbox.sandbox.signals). None: only when this "
        "process owns its container (it is PID 1 or a child of it)",
    )
    # The container `gymbox up` renders for this instance (gymbox.docker.sandbox):
    environment: str | None = Field(
        default=None,
        description="run in this environment's image, so the code can import what its "
        "requirements.txt installs (numpy, say); default: the runtime image, standard library and gymbox's deps",
    )
    tmpfs_mb: int = Field(default=256, ge=16, description="size of the container's writable /tmp")
    pids_limit: int = Field(default=512, ge=16, description="processes and threads in the container")


class PythonSandboxServer:
    Config = PythonSandboxConfig

    def __init__(self, config: PythonSandboxConfig | None = None, *, name: str = "", stack: Any = None) -> None:
        self.config = config or PythonSandboxConfig()
        self.name = name or "python_sandbox"
        contain = self.config.contain_orphans
        if contain is None:  # not inside a test process or a shell, where our other children are not strays
            contain = os.getpid() == 1 or os.getppid() == 1
        self.slots = self._slots()
        self.executor = Executor(self.config.limits, self.slots, contain_orphans=contain)

    def _slots(self) -> Slots:
        cfg = self.config
        isolate = cfg.isolate_users
        if isolate is None:
            isolate = os.geteuid() == 0 and others_can_run(sys.executable)
            if os.geteuid() == 0 and not isolate:
                log.warning(
                    "%s: runs as root, and other users cannot run %s: every run is root too; "
                    "use the container (docs/sandbox.md) for anything but development",
                    self.name,
                    sys.executable,
                )
        mounted = os.environ.get(ROOT_ENV)
        self.own_root = None if mounted else Path(tempfile.mkdtemp(prefix="gymbox-sandbox-"))
        root = Path(mounted) if mounted else self.own_root
        assert root is not None
        base = (cfg.run_uid_base or random_uid_base(cfg.max_concurrency)) if isolate else None
        if isolate and self.own_root is not None:
            os.chmod(root, 0o711)  # each run may reach its own slot folder; none may list them
        try:
            return Slots(root, cfg.max_concurrency, uid_base=base, min_free_mb=cfg.min_free_mb)
        except PermissionError as exc:
            raise RuntimeError(
                f"{self.name}: isolate_users needs root with CAP_CHOWN, CAP_SETUID and CAP_SETGID ({exc}); "
                "set isolate_users: false to run every run as this user"
            ) from None

    def build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            make_undumpable()  # no run may ptrace the server or open its memory, even as the same user
            forbid_new_privileges()  # whatever the engine's security options (a Swarm ignores them)
            if self.executor.contain_orphans:  # this process owns its container
                become_subreaper()
                if threading.current_thread() is threading.main_thread():
                    guard_shutdown_signals()
            try:
                yield
            finally:
                self.executor.close()
                if self.own_root is not None:
                    shutil.rmtree(self.own_root, ignore_errors=True)

        app = create_app(self.name, lifespan=lifespan)
        max_bytes = self.config.max_code_kb * 1024

        @app.post("/execute")
        async def execute(body: ExecuteRequest) -> Execution:
            size = sum(len(text.encode()) for text in (body.code, body.stdin, *body.files.values()))
            if size > max_bytes:
                raise ToolError(
                    f"code, files and stdin hold {size} bytes; this sandbox takes at most {max_bytes}", status_code=413
                )
            try:
                return await self.executor.execute(body)
            except InvalidRequest as exc:
                raise ToolError(str(exc)) from None
            except SandboxUnavailable as exc:
                raise ToolError(f"{self.name} cannot run code honestly now: {exc}", status_code=503) from None

        @app.get("/status")
        async def status() -> dict[str, int]:
            ex = self.executor
            return {
                "running": ex.running,
                "queued": max(ex.queued - ex.running, 0),
                "runs": ex.runs,
                "max_concurrency": ex.max_concurrency,
                "leftovers_killed": ex.leftovers_killed,
                "refused": ex.refused,
                "reruns_alone": ex.reruns_alone,
                "slots_set_aside": self.slots.broken,
                "isolated_users": int(self.slots.isolated),
            }

        return app

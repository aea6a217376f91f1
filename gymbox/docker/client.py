"""The one place gymbox runs `docker` and `docker compose`.

Every call builds its argument list here, is echoed to stderr when `GYMBOX_DEBUG` is set, and turns a
non-zero exit into `DockerError(command, returncode, stderr)`, so callers never parse exit codes.
Compose is `docker compose` (v2 plugin) when present, else the standalone `docker-compose` (v1.29).
"""

from __future__ import annotations

import functools
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import IO

from gymbox.errors import DockerError

DEBUG_VAR = "GYMBOX_DEBUG"


def debug_enabled() -> bool:
    return os.environ.get(DEBUG_VAR, "") not in ("", "0", "false", "no")


def echo_command(argv: Sequence[str]) -> None:
    if debug_enabled():
        sys.stderr.write(f"+ {shlex.join(argv)}\n")


def run(
    argv: Sequence[str],
    *,
    input: bytes | str | None = None,
    stdin: IO[bytes] | None = None,
    timeout: float | None = None,
    check: bool = True,
    capture: bool = True,
    env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run a docker/compose command line; raise DockerError when it fails (and `check`).

    `capture=False` lets output through to the terminal (builds, `logs --follow`); stderr is then not
    in the error, which says so. `stdin` streams from a pipe (`docker import -`), `input` sends bytes.
    """
    argv = list(argv)
    echo_command(argv)
    data = input.encode() if isinstance(input, str) else input
    try:
        proc = subprocess.run(
            argv,
            input=data,
            stdin=stdin if data is None else None,
            stdout=subprocess.PIPE if capture else None,
            stderr=subprocess.PIPE if capture else None,
            timeout=timeout,
            check=False,
            env={**os.environ, **env} if env is not None else None,  # env adds to (never replaces) ours
        )
    except FileNotFoundError:
        raise DockerError(
            argv,
            127,
            f"{argv[0]}: command not found; install Docker (Debian: apt-get install docker.io docker-compose)",
        ) from None
    except subprocess.TimeoutExpired as exc:
        stderr = _text(exc.stderr)
        raise DockerError(argv, 124, f"timed out after {timeout:g} s\n{stderr}") from None
    result = subprocess.CompletedProcess(argv, proc.returncode, _text(proc.stdout), _text(proc.stderr))
    if check and proc.returncode != 0:
        stderr = result.stderr if capture else "(output was shown above)"
        raise DockerError(argv, proc.returncode, stderr or result.stdout)
    return result


def spawn(argv: Sequence[str], output: Path) -> subprocess.Popen[bytes]:
    """Start a long command in the background, stdout and stderr to `output`, in its own session so that
    a Ctrl-C meant for gymbox does not also hit it (gymbox stops it, then cleans up)."""
    argv = list(argv)
    echo_command(argv)
    with output.open("wb") as out:
        try:
            return subprocess.Popen(
                argv, stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True
            )
        except FileNotFoundError:
            raise DockerError(argv, 127, f"{argv[0]}: command not found") from None


def _text(data: bytes | str | None) -> str:
    if data is None:
        return ""
    return data.decode(errors="replace") if isinstance(data, bytes) else data


def docker(*args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return run(["docker", *args], **kwargs)


@functools.cache
def compose_base() -> tuple[str, ...]:
    """`("docker", "compose")` when the v2 plugin answers, else `("docker-compose",)`."""
    try:
        probe = subprocess.run(["docker", "compose", "version"], capture_output=True, timeout=20, check=False)
        if probe.returncode == 0:
            return ("docker", "compose")
    except (FileNotFoundError, subprocess.TimeoutExpired):
        pass
    if shutil.which("docker-compose"):
        return ("docker-compose",)
    raise DockerError(
        ["docker", "compose", "version"],
        127,
        "neither `docker compose` (v2) nor `docker-compose` (v1) is installed; "
        "install one (Debian: apt-get install docker-compose)",
    )


def compose(project: str, files: Sequence[str], *args: str, **kwargs) -> subprocess.CompletedProcess[str]:  # type: ignore[no-untyped-def]
    return run(compose_argv(project, files, *args), **kwargs)


def compose_argv(project: str, files: Sequence[str], *args: str) -> list[str]:
    argv = [*compose_base(), "--project-name", project]
    for file in files:
        argv += ["--file", file]
    return [*argv, *args]


def engine_available(timeout: float = 10) -> str | None:
    """None when the engine answers; otherwise why not (for skip/fail messages)."""
    try:
        docker("version", "--format", "{{.Server.Version}}", timeout=timeout)
    except DockerError as exc:
        return exc.stderr.strip() or str(exc)
    return None

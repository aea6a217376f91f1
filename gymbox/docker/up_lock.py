"""One `gymbox up` per stack at a time, and a record of its compose process for a later `down`.

`up` holds an exclusive flock on `compose/<stack>/up.lock` while it builds, renders and starts, so a
second `up` of the same stack stops with the first one's pid. A kill -9 of `up` releases the lock (the
kernel closes the file) but not `compose up`, which runs in its own session and keeps creating
containers after `down` has looked. So `up` also writes `compose/<stack>/compose.pid`: the compose
process's pid and its start time (field 22 of /proc/<pid>/stat, so a reused pid is never taken for
it), and `down` stops that process group before it removes anything.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path

from gymbox.errors import StackError

LOCK_FILE = "up.lock"
COMPOSE_RECORD = "compose.pid"
STOP_WAIT_S = 10.0


@contextlib.contextmanager
def up_lock(directory: Path, stack: str) -> Iterator[None]:
    """Hold the stack's `up` lock for the block; a StackError at once if another `up` holds it."""
    directory.mkdir(parents=True, exist_ok=True)
    fd = os.open(directory / LOCK_FILE, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 32, 0).decode(errors="replace").strip() or "unknown"
            raise StackError(
                f"stack {stack} is being started by another `gymbox up` (pid {holder}; lock "
                f"{directory / LOCK_FILE}). Wait for it to finish, or stop it with `gymbox down --name {stack}`"
            ) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)  # releases the flock


def process_start_time(pid: int) -> int | None:
    """Clock ticks after boot at which `pid` started; None when it is gone or a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()  # the command name may hold spaces and brackets
    if fields[0] == "Z":
        return None
    return int(fields[19])


def record_compose(directory: Path, pid: int) -> None:
    record = {"pid": pid, "start_time": process_start_time(pid)}
    tmp = directory / f".{COMPOSE_RECORD}.tmp"
    tmp.write_text(json.dumps(record) + "\n")
    tmp.replace(directory / COMPOSE_RECORD)


def forget_compose(directory: Path) -> None:
    (directory / COMPOSE_RECORD).unlink(missing_ok=True)


def stop_recorded_compose(directory: Path) -> int | None:
    """Stop the compose process a killed `up` left running (its whole process group: SIGTERM, then
    SIGKILL after 10 s) and forget it; its pid, or None when there was none left to stop."""
    path = directory / COMPOSE_RECORD
    try:
        record = json.loads(path.read_text())
        pid, started = int(record["pid"]), record["start_time"]
    except (OSError, ValueError, KeyError, TypeError):
        return None  # no record (or a torn one): nothing we can safely signal
    stopped = None
    if started is not None and process_start_time(pid) == started:
        for sig in (signal.SIGTERM, signal.SIGKILL):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(pid, sig)  # compose is its session's leader: its group id is its pid
            deadline = time.monotonic() + STOP_WAIT_S
            while process_start_time(pid) == started and time.monotonic() < deadline:
                time.sleep(0.1)
            if process_start_time(pid) != started:
                break
        stopped = pid
    forget_compose(directory)
    return stopped

"""Run one Python program under limits, in a fresh folder, and leave nothing behind.

Each run is `python -I -B main.py` in its own session, with RLIMIT_CPU/AS/NPROC/FSIZE/NOFILE/CORE set
between fork and exec (the program cannot raise them again), a clean environment (the server's, which
may hold secrets, is not passed on), stdout and stderr written to files in the run's folder and read
back up to a cap, and a timer that kills the whole session at the wall-time limit. Runs wait in
worker threads (os.wait4 gives the run's CPU time and peak memory), at most `max_concurrency` at once.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path, PurePosixPath
from typing import Any

from gymbox.sandbox.processes import kill_session, sweep_orphans
from gymbox.sandbox.protocol import ExecuteRequest, Execution, ExecutionStatus, Limits

MAIN = "main.py"


class InvalidRequest(ValueError):
    """A request the sandbox will not run: bad limits, or a file name that leaves the run's folder."""


def run_limits(ceiling: Limits, requested: dict[str, Any]) -> Limits:
    unknown = sorted(set(requested) - set(Limits.model_fields))
    if unknown:
        raise InvalidRequest(f"limits: unknown field(s) {', '.join(unknown)}; known: {', '.join(Limits.model_fields)}")
    try:
        asked = Limits.model_validate({**ceiling.model_dump(), **requested})
    except ValueError as exc:
        raise InvalidRequest(f"limits: {exc}") from None
    return asked.capped_by(ceiling)


def _set_limits(limits: Limits) -> Any:
    cpu = limits.cpu_s
    memory = limits.memory_mb * 2**20
    size = limits.file_mb * 2**20

    def apply() -> None:  # in the child, between fork and exec: plain syscalls only
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at cpu, SIGKILL a second later
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.umask(0o077)

    return apply


def _read_capped(path: Path, cap: int) -> tuple[str, bool]:
    with open(path, "rb") as f:
        data = f.read(cap + 1)
    return data[:cap].decode("utf-8", errors="replace"), len(data) > cap


def _status(code: int, limits: Limits, cpu_s: float, timed_out: bool) -> tuple[ExecutionStatus, int | None, str | None]:
    if os.WIFSIGNALED(code):
        sig = os.WTERMSIG(code)
        try:
            name = signal.Signals(sig).name
        except ValueError:  # a real-time signal has no name
            name = str(sig)
        if timed_out:
            return "timeout", None, name
        if sig == signal.SIGXCPU or (sig == signal.SIGKILL and cpu_s >= limits.cpu_s):
            return "cpu_limit", None, name
        return "killed", None, name
    exit_code = os.WEXITSTATUS(code)
    if timed_out:  # exited on its own as the timer fired
        return "timeout", exit_code, None
    return ("ok" if exit_code == 0 else "error"), exit_code, None


class Executor:
    def __init__(
        self, ceiling: Limits, *, max_concurrency: int = 4, root: Path | None = None, contain_orphans: bool = True
    ) -> None:
        self.ceiling = ceiling
        self.root = root or Path(tempfile.gettempdir()) / "gymbox-sandbox"
        self.contain_orphans = contain_orphans
        self.pool = ThreadPoolExecutor(max_workers=max_concurrency, thread_name_prefix="sandbox-run")
        self.max_concurrency = max_concurrency
        self._lock = threading.Lock()  # spawning, the live set and sweeping must not interleave
        self._live: set[int] = set()  # sessions (= leader pids) of running programs
        self.runs = 0
        self.queued = 0
        self.leftovers_killed = 0

    @property
    def running(self) -> int:
        return len(self._live)

    async def execute(self, request: ExecuteRequest) -> Execution:
        limits = run_limits(self.ceiling, request.limits)
        files = self._files(request)
        self.queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, self._run, files, request.stdin, limits)
        finally:
            self.queued -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    @staticmethod
    def _files(request: ExecuteRequest) -> dict[str, str]:
        files = {MAIN: request.code}
        for name, text in request.files.items():
            path = PurePosixPath(name)
            if path.is_absolute() or ".." in path.parts or not path.parts or str(path) == MAIN:
                raise InvalidRequest(f"files: {name!r} must be a relative path inside the run's folder, not {MAIN}")
            files[str(path)] = text
        return files

    def _run(self, files: dict[str, str], stdin: str, limits: Limits) -> Execution:
        self.root.mkdir(parents=True, exist_ok=True)
        run_dir = Path(tempfile.mkdtemp(prefix="run-", dir=self.root))
        try:
            return self._run_in(run_dir, files, stdin, limits)
        finally:
            if sys.version_info >= (3, 12):
                shutil.rmtree(run_dir, onexc=_force_remove)
            else:
                shutil.rmtree(run_dir, onerror=_force_remove)

    def _run_in(self, run_dir: Path, files: dict[str, str], stdin: str, limits: Limits) -> Execution:
        workdir, io = run_dir / "work", run_dir / "io"  # the program's folder; its streams, beside it
        for name, text in files.items():
            (workdir / name).parent.mkdir(parents=True, exist_ok=True)
            (workdir / name).write_text(text)
        io.mkdir()
        (io / "stdin").write_text(stdin)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "HOME": str(workdir),
            "TMPDIR": str(workdir),
            "LANG": "C.UTF-8",
        }
        timed_out = threading.Event()
        with open(io / "stdin", "rb") as fin, open(io / "stdout", "wb") as fout, open(io / "stderr", "wb") as ferr:
            with self._lock:
                started = time.monotonic()
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-B", MAIN],
                    cwd=workdir,
                    env=env,
                    stdin=fin,
                    stdout=fout,
                    stderr=ferr,
                    start_new_session=True,
                    preexec_fn=_set_limits(limits),
                    close_fds=True,
                )
                self._live.add(proc.pid)

            def on_timeout() -> None:
                timed_out.set()
                kill_session(proc.pid)

            timer = threading.Timer(limits.wall_s, on_timeout)
            timer.start()
            try:
                _, code, usage = os.wait4(proc.pid, 0)
            finally:
                timer.cancel()
            proc.returncode = code  # reaped here: Popen must not wait for it again
            wall = time.monotonic() - started
        # Whatever the program left running in its session, then whatever fled the session.
        leftovers = kill_session(proc.pid)
        with self._lock:
            self._live.discard(proc.pid)
            if self.contain_orphans:
                leftovers += sweep_orphans(self._live)
            self.runs += 1
            self.leftovers_killed += leftovers
        cpu = usage.ru_utime + usage.ru_stime
        status, exit_code, signame = _status(code, limits, cpu, timed_out.is_set())
        cap = limits.output_kb * 1024
        stdout, out_cut = _read_capped(io / "stdout", cap)
        stderr, err_cut = _read_capped(io / "stderr", cap)
        return Execution(
            status=status,
            exit_code=exit_code,
            signal=signame,
            stdout=stdout,
            stderr=stderr,
            stdout_truncated=out_cut,
            stderr_truncated=err_cut,
            wall_s=round(wall, 4),
            cpu_s=round(cpu, 4),
            max_rss_mb=round(usage.ru_maxrss / 1024, 2),
            leftover_processes=leftovers,
        )


def _force_remove(func: Any, path: str, _exc: Any) -> None:
    """rmtree's error hook: a run may leave folders without write permission; restore it and retry."""
    try:
        os.chmod(os.path.dirname(path), 0o700)
        if os.path.isdir(path) and not os.path.islink(path):
            os.chmod(path, 0o700)
        func(path)
    except OSError:
        pass

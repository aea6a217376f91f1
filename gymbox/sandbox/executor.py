"""Run one Python program under limits, in a clean slot, and leave nothing behind.

Each run is `python -I -B main.py` in its own session and its own slot (gymbox.sandbox.slots: a folder
and, when the server may switch users, a user id no other run has). Between fork and exec the child
takes the slot's user, RLIMIT_CPU/AS/NPROC/FSIZE/NOFILE/CORE (it cannot raise them again) and the
seccomp filter of gymbox.sandbox.seccomp (no network, no ptrace); it gets a clean environment (the
server's, which may hold secrets, is not passed on). Its stdin is a memfd and its stdout and stderr are
pipes the server reads as they fill, up to a cap: nothing on disk that another run could replace or
turn into a FIFO. The worker waits on a pidfd and the pipes with one deadline, and at the wall-time
limit kills every process of the run. Runs wait in worker threads, at most one per slot at once.

A run that reaches its wall-time limit because other runs held the CPU (gymbox.sandbox.processes.
wait_caused_by_others) is run again with the sandbox to itself (gymbox.sandbox.run_gate), and that run's
result is the answer: an honest program is not scored on a neighbour's fork bomb, and a program that starves
itself or sleeps gets no second try.
"""

from __future__ import annotations

import asyncio
import os
import resource
import selectors
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from gymbox.sandbox.files import MAIN, run_files
from gymbox.sandbox.processes import (
    kill_session,
    kill_user,
    reap_user_zombies,
    run_processes,
    sweep_orphans,
    wait_caused_by_others,
)
from gymbox.sandbox.protocol import ExecuteRequest, Execution, ExecutionStatus, InvalidRequest, Limits
from gymbox.sandbox.run_gate import RunGate
from gymbox.sandbox.seccomp import make_installer
from gymbox.sandbox.slots import SandboxUnavailable, Slot, Slots

KILL_GRACE_S = 10.0  # a run still not reaped this long after SIGKILL means the sandbox is stuck
READ_CHUNK = 65536
DRAIN_READS = 64  # after the run ends: what is left in a pipe, not what a process elsewhere keeps writing
# A timed-out run that waited this share of its wall time for a CPU, beyond what its own processes used, was
# starved by other runs: it is run again alone.
STARVED_SHARE = 0.25


def run_limits(ceiling: Limits, requested: dict[str, Any]) -> Limits:
    unknown = sorted(set(requested) - set(Limits.model_fields))
    if unknown:
        raise InvalidRequest(f"limits: unknown field(s) {', '.join(unknown)}; known: {', '.join(Limits.model_fields)}")
    try:
        asked = Limits.model_validate({**ceiling.model_dump(), **requested})
    except ValueError as exc:
        raise InvalidRequest(f"limits: {exc}") from None
    return asked.capped_by(ceiling)


def _child_setup(limits: Limits, install_filter: Callable[[], None]) -> Callable[[], None]:
    cpu = limits.cpu_s
    memory = limits.memory_mb * 2**20
    size = limits.file_mb * 2**20

    def apply() -> None:  # in the child, between fork and exec (after the switch to the slot's user)
        resource.setrlimit(resource.RLIMIT_CPU, (cpu, cpu + 1))  # SIGXCPU at cpu, SIGKILL a second later
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
        resource.setrlimit(resource.RLIMIT_NPROC, (limits.processes, limits.processes))
        resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))
        resource.setrlimit(resource.RLIMIT_NOFILE, (limits.open_files, limits.open_files))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        os.umask(0o077)
        install_filter()  # last: from here on no network socket, no ptrace

    return apply


@dataclass
class CappedOutput:
    """The first `cap` bytes of a stream; the rest is read and dropped, so the writer never blocks."""

    cap: int
    data: bytearray = field(default_factory=bytearray)
    truncated: bool = False

    def add(self, chunk: bytes) -> None:
        room = self.cap - len(self.data)
        if len(chunk) > room:
            self.truncated = True
        self.data += chunk[: max(room, 0)]

    def text(self) -> str:
        return self.data.decode("utf-8", errors="replace")


def _stdin_fd(stdin: str) -> int:
    """The run's stdin as an anonymous in-memory file: no path another run could open or replace."""
    fd = os.memfd_create("stdin", os.MFD_CLOEXEC)
    data = memoryview(stdin.encode())
    while data:
        data = data[os.write(fd, data) :]
    os.lseek(fd, 0, os.SEEK_SET)
    return fd


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
    if timed_out:  # exited on its own as the deadline passed
        return "timeout", exit_code, None
    return ("ok" if exit_code == 0 else "error"), exit_code, None


class Executor:
    def __init__(self, ceiling: Limits, slots: Slots, *, contain_orphans: bool = True) -> None:
        self.ceiling = ceiling
        self.slots = slots
        self.contain_orphans = contain_orphans
        self.install_filter = make_installer()
        self.max_concurrency = len(slots.slots)
        # As many threads as slots: a worker always finds an idle slot.
        self.pool = ThreadPoolExecutor(max_workers=self.max_concurrency, thread_name_prefix="sandbox-run")
        self._lock = threading.Lock()  # spawning, the live set and sweeping must not interleave
        self._live: set[int] = set()  # sessions (= leader pids) of running programs
        self.gate = RunGate()
        self.reruns_alone = 0
        self.runs = 0
        self.queued = 0
        self.leftovers_killed = 0
        self.refused = 0  # requests answered 503: the sandbox could not run them honestly

    @property
    def running(self) -> int:
        return len(self._live)

    async def execute(self, request: ExecuteRequest) -> Execution:
        limits = run_limits(self.ceiling, request.limits)
        files = run_files(request)
        self.queued += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self.pool, self._run, files, request.stdin, limits)
        except SandboxUnavailable:
            self.refused += 1
            raise
        finally:
            self.queued -= 1

    def close(self) -> None:
        self.pool.shutdown(wait=False, cancel_futures=True)

    def _run(self, files: dict[str, str], stdin: str, limits: Limits) -> Execution:
        slot = self.slots.acquire()
        try:
            self.slots.write_files(slot, files)
            with self.gate.shared():
                execution, starved = self._run_in(slot, stdin, limits)
            if starved:  # its verdict is the one it earns with the CPU to itself
                self.slots.reset(slot)
                if slot.broken:
                    raise SandboxUnavailable(f"a starved run could not be run again in {slot.path}: {slot.broken}")
                self.slots.write_files(slot, files)
                with self.gate.alone():
                    execution, _ = self._run_in(slot, stdin, limits)
                execution.rerun_alone = True
                with self._lock:
                    self.reruns_alone += 1
            return execution
        except OSError as exc:  # out of descriptors or memory, say: the server's failure, not the run's
            raise SandboxUnavailable(f"the run in {slot.path} failed on the sandbox's side: {exc}") from None
        finally:
            self.slots.reset(slot)
            self.slots.release(slot)

    def _kill_run(self, slot: Slot, leader: int) -> int:
        """Kill every process of the run; how many were alive (once the leader is reaped: its leftovers)."""
        if slot.uid is not None:  # the run's user is the run, wherever its processes went
            return kill_user(slot.uid)
        return kill_session(leader)

    def _spawn(self, slot: Slot, stdin: str, limits: Limits) -> tuple[subprocess.Popen[bytes], int, int]:
        home = str(slot.path)
        env = {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "HOME": home, "TMPDIR": home, "LANG": "C.UTF-8"}
        as_user: dict[str, Any] = {}
        if slot.uid is not None:
            as_user = {"user": slot.uid, "group": slot.uid, "extra_groups": []}
        stdin_fd = _stdin_fd(stdin)
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        try:
            with self._lock:
                proc = subprocess.Popen(
                    [sys.executable, "-I", "-B", MAIN],
                    cwd=slot.path,
                    env=env,
                    stdin=stdin_fd,
                    stdout=out_w,
                    stderr=err_w,
                    start_new_session=True,
                    preexec_fn=_child_setup(limits, self.install_filter),
                    close_fds=True,
                    **as_user,
                )
                self._live.add(proc.pid)
        except (OSError, subprocess.SubprocessError) as exc:
            os.close(out_r)
            os.close(err_r)
            raise SandboxUnavailable(f"could not start the run in {slot.path}: {exc}") from None
        finally:
            for fd in (stdin_fd, out_w, err_w):
                os.close(fd)
        return proc, out_r, err_r

    def _run_in(self, slot: Slot, stdin: str, limits: Limits) -> tuple[Execution, bool]:
        """The run's result, and whether it timed out because other runs held the CPU."""
        started = time.monotonic()
        starved = False
        proc, out_r, err_r = self._spawn(slot, stdin, limits)
        cap = limits.output_kb * 1024
        outputs = {out_r: CappedOutput(cap), err_r: CappedOutput(cap)}
        try:
            pidfd = os.pidfd_open(proc.pid)
            try:
                ended = self._wait(proc.pid, pidfd, outputs, started + limits.wall_s)
            finally:
                os.close(pidfd)
            timed_out = ended is None
            if timed_out:  # measured while the run's processes are still there, then they are killed
                waited = wait_caused_by_others(run_processes(slot.uid, proc.pid))
                starved = waited is not None and waited >= STARVED_SHARE * limits.wall_s
                self._kill_run(slot, proc.pid)
            code, usage = ended or self._wait_after_kill(slot, proc.pid)
            proc.returncode = code  # reaped here: Popen must not wait for it again
            wall = time.monotonic() - started
            # Whatever the program left running, then (without users) whatever fled its session.
            leftovers = self._kill_run(slot, proc.pid)
            with self._lock:
                self._live.discard(proc.pid)
                if slot.uid is not None:
                    reap_user_zombies(slot.uid)
                elif self.contain_orphans:
                    leftovers += sweep_orphans(self._live)
                self.runs += 1
                self.leftovers_killed += leftovers
            for fd, output in outputs.items():
                _drain(fd, output)
        finally:
            if proc.returncode is None:  # the wait failed: the run must not outlive its answer
                self._kill_run(slot, proc.pid)
            with self._lock:
                self._live.discard(proc.pid)
            for fd in outputs:
                os.close(fd)
        cpu = usage.ru_utime + usage.ru_stime
        status, exit_code, signame = _status(code, limits, cpu, timed_out)
        stdout, stderr = outputs[out_r], outputs[err_r]
        return Execution(
            status=status,
            exit_code=exit_code,
            signal=signame,
            stdout=stdout.text(),
            stderr=stderr.text(),
            stdout_truncated=stdout.truncated,
            stderr_truncated=stderr.truncated,
            wall_s=round(wall, 4),
            cpu_s=round(cpu, 4),
            max_rss_mb=round(usage.ru_maxrss / 1024, 2),
            leftover_processes=leftovers,
        ), starved

    def _wait(self, pid: int, pidfd: int, outputs: dict[int, CappedOutput], deadline: float) -> tuple[int, Any] | None:
        """Read the pipes until the leader exits: (its wait status, its rusage); None when the deadline
        came first (the run is then still running)."""
        with selectors.DefaultSelector() as selector:
            selector.register(pidfd, selectors.EVENT_READ)
            for fd in outputs:
                selector.register(fd, selectors.EVENT_READ)
            while True:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return None
                for key, _ in selector.select(remaining):
                    if key.fd == pidfd:
                        _, code, usage = os.wait4(pid, 0)
                        return code, usage
                    chunk = os.read(key.fd, READ_CHUNK)
                    if chunk:
                        outputs[key.fd].add(chunk)
                    else:
                        selector.unregister(key.fd)

    def _wait_after_kill(self, slot: Slot, pid: int) -> tuple[int, Any]:
        give_up = time.monotonic() + KILL_GRACE_S
        while time.monotonic() < give_up:
            reaped, code, usage = os.wait4(pid, os.WNOHANG)
            if reaped:
                return code, usage
            self._kill_run(slot, pid)
            time.sleep(0.01)
        raise SandboxUnavailable(f"the run in {slot.path} did not end {KILL_GRACE_S:.0f} s after SIGKILL")


def _drain(fd: int, output: CappedOutput) -> None:
    """What the run's processes wrote before they died. Non-blocking and bounded: a descriptor passed to
    a process outside the run (over a Unix socket) must not keep this worker reading."""
    os.set_blocking(fd, False)
    for _ in range(DRAIN_READS):
        try:
            chunk = os.read(fd, READ_CHUNK)
        except BlockingIOError:
            return
        if not chunk:
            return
        output.add(chunk)


__all__ = ["Executor", "InvalidRequest", "SandboxUnavailable", "run_limits"]

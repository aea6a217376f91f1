"""Finding and killing what a run left behind, from /proc.

When each run has a user id of its own (gymbox.sandbox.slots), its processes are exactly those of that
user, however they forked or whichever session they fled to: `kill_user` ends them all. Without one
(a server that cannot switch users) the run's session is what identifies it:
a run starts in its own session. Killing that session's members (whatever process group they moved
to) ends most of it; a process that called setsid() has left the session, and once its parent dies it
is re-parented to the nearest "child subreaper". The sandbox server makes itself that subreaper, so such
escapees come back to it as children outside every live run's session, and `sweep_orphans` kills them.
Linux only, like the container it runs in.
"""

from __future__ import annotations

import ctypes
import os
import signal
from collections.abc import Iterable
from dataclasses import dataclass

PR_SET_CHILD_SUBREAPER = 36
KILL_PASSES = 50  # a fork bomb forks while it is being killed: go round until nothing is left
TICKS_PER_S = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True)
class ProcessInfo:
    pid: int
    ppid: int
    session: int
    zombie: bool
    cpu_s: float  # its threads' and the children it has waited for (utime, stime, cutime, cstime)


def processes() -> list[ProcessInfo]:
    out = []
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            with open(f"/proc/{entry.name}/stat", "rb") as f:
                stat = f.read()
        except OSError:  # gone meanwhile, or not ours to read
            continue
        # `pid (comm) state ppid pgrp session ...`; comm may hold spaces and parentheses.
        fields = stat[stat.rindex(b")") + 2 :].split()
        cpu_s = sum(int(ticks) for ticks in fields[11:15]) / TICKS_PER_S
        out.append(ProcessInfo(int(entry.name), int(fields[1]), int(fields[3]), fields[0] == b"Z", cpu_s))
    return out


def user_ids(pid: int) -> tuple[int, ...]:
    """The real, effective, saved and filesystem uids (from status: /proc/PID's owner lies for an
    undumpable process), or () when it is gone."""
    try:
        with open(f"/proc/{pid}/status", "rb") as f:
            for line in f:
                if line.startswith(b"Uid:"):
                    return tuple(int(x) for x in line.split()[1:])
    except (OSError, ValueError):
        pass
    return ()


def session_of(pid: int) -> int | None:
    try:
        return os.getsid(pid)
    except OSError:  # gone already
        return None


def become_subreaper() -> bool:
    """Have orphaned descendants re-parented to this process instead of PID 1."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return bool(libc.prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0)
    except (OSError, AttributeError):
        return False


def _kill_all(pids: Iterable[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass


def _reap(pids: Iterable[int]) -> None:
    """Collect the exit status of our own dead children (re-parented escapees), so no zombies pile up."""
    for pid in pids:
        try:
            os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            pass


def kill_session(session: int) -> int:
    """SIGKILL every process of `session`; return how many were alive (the leader not counted)."""
    seen: set[int] = set()
    for _ in range(KILL_PASSES):
        members = [p.pid for p in processes() if p.session == session and not p.zombie]
        if not members:
            break
        seen.update(members)
        _kill_all(members)
    seen.discard(session)
    return len(seen)


def kill_user(uid: int) -> int:
    """SIGKILL every process running as `uid` (needs CAP_KILL, or to be that uid); return how many."""
    seen: set[int] = set()
    for _ in range(KILL_PASSES):
        alive = [p.pid for p in processes() if not p.zombie and uid in user_ids(p.pid)]
        if not alive:
            break
        seen.update(alive)
        _kill_all(alive)
    return len(seen)


def reap_user_zombies(uid: int) -> None:
    """Collect our dead children of `uid` (escapees re-parented to us as the subreaper). Call it once
    the run's leader has been waited for: it must not take the leader's exit status from its waiter."""
    me = os.getpid()
    _reap(p.pid for p in processes() if p.zombie and p.ppid == me and uid in user_ids(p.pid))


def run_processes(uid: int | None, leader: int) -> list[ProcessInfo]:
    """A run's processes, zombies included: those of its user; without one, its session's and their
    descendants (a process that called setsid() is found while its parent lives)."""
    found = processes()
    if uid is not None:
        return [p for p in found if uid in user_ids(p.pid)]
    by_pid = {p.pid: p for p in found}
    children: dict[int, list[int]] = {}
    for p in found:
        children.setdefault(p.ppid, []).append(p.pid)
    members = {p.pid for p in found if p.session == leader}
    unvisited = list(members)
    while unvisited:
        for child in children.get(unvisited.pop(), []):
            if child not in members:
                members.add(child)
                unvisited.append(child)
    return [by_pid[pid] for pid in sorted(members)]


def run_queue(pid: int) -> tuple[float, float] | None:
    """(CPU time, time runnable but waiting for a CPU) of a process's main thread, in seconds; None when it
    is gone or the kernel keeps no scheduler statistics."""
    try:
        with open(f"/proc/{pid}/schedstat", "rb") as f:
            ran, waited, _ = f.read().split()
    except (OSError, ValueError):
        return None
    return int(ran) / 1e9, int(waited) / 1e9


def wait_caused_by_others(run: list[ProcessInfo]) -> float | None:
    """Seconds one of a run's processes waited for a CPU that the run itself cannot explain.

    A process that waits may wait behind the run's own other work, so what the rest of the run used is
    taken off its wait: what remains, others caused. The largest of these over the processes; None when
    no process has scheduler statistics."""
    total = sum(p.cpu_s for p in run)
    queues = [stats for stats in (run_queue(p.pid) for p in run) if stats is not None]
    if not queues:
        return None
    return max(waited - max(total - ran, 0.0) for ran, waited in queues)


def user_has_processes(uid: int) -> bool:
    return any(not p.zombie and uid in user_ids(p.pid) for p in processes())


def sweep_orphans(live_sessions: set[int]) -> int:
    """Kill our children that belong to no live run and are not in our own session; return how many.

    Processes the server starts for itself stay in its session; a run's processes are in the run's
    session until they call setsid(), so a child outside both is an escapee re-parented to us.
    """
    me, own_session = os.getpid(), os.getsid(0)
    killed: set[int] = set()
    for _ in range(KILL_PASSES):
        strays = [
            p for p in processes() if p.ppid == me and p.session not in live_sessions and p.session != own_session
        ]
        _reap(p.pid for p in strays if p.zombie)
        alive = [p.pid for p in strays if not p.zombie]
        if not alive:
            break
        killed.update(alive)
        _kill_all(alive)
        _reap(alive)
    return len(killed)

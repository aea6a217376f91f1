"""Shutdown signals only from whoever runs the sandbox, never from the code it runs.

Sandboxed programs run as the server's own user, so they may signal it: `os.kill(os.getppid(), SIGTERM)`
would stop the server for every run in flight. In its container the server is PID 1 (no init), which the
kernel already shields from SIGKILL, SIGSTOP and any signal it has no handler for, when sent from inside
the container; this guards the two it does handle. SIGTERM and SIGINT are blocked in every thread and
a watcher thread takes them with sigwaitinfo(), which names the sender: one from outside the container
(pid 0: `docker stop`, a terminal), from an init (pid 1) or from a process in the server's own session
is passed on to uvicorn's handler; one from a run's session is dropped, and logged.
"""

from __future__ import annotations

import logging
import os
import signal
import threading

from gymbox.sandbox.processes import session_of

SHUTDOWN_SIGNALS = {signal.SIGTERM, signal.SIGINT}
log = logging.getLogger("gymbox.sandbox")


def trusted_sender(pid: int, own_session: int) -> bool:
    return pid in (0, 1) or session_of(pid) == own_session


def guard_shutdown_signals() -> threading.Thread:
    """Call from the main thread before other threads start: they inherit the blocked mask."""
    signal.pthread_sigmask(signal.SIG_BLOCK, SHUTDOWN_SIGNALS)
    own_session = os.getsid(0)

    def watch() -> None:
        while True:
            info = signal.sigwaitinfo(SHUTDOWN_SIGNALS)
            if not trusted_sender(info.si_pid, own_session):
                log.warning("ignored %s from pid %d, a sandboxed run", signal.Signals(info.si_signo).name, info.si_pid)
                continue
            # Deliver it for real, to this thread only, so the handler uvicorn installed runs.
            signal.pthread_sigmask(signal.SIG_UNBLOCK, {info.si_signo})
            signal.raise_signal(info.si_signo)
            signal.pthread_sigmask(signal.SIG_BLOCK, {info.si_signo})

    thread = threading.Thread(target=watch, name="sandbox-signals", daemon=True)
    thread.start()
    return thread

"""Waiting for a starting stack to be healthy, and saying precisely why it is not.

A gymbox server is ready when it answers `GET /health`. This probes each one from the host at its container
address as soon as it runs, so it is seen ready as soon as it listens; the engine's own healthcheck of it
runs only every 10 s (SERVER_PROBE_INTERVAL), and its dependents start without waiting for that. Servers
this cannot probe (vLLM, NeMo Gym's, the Ray head), or a host that cannot reach container addresses, wait
for the engine's verdict. Meanwhile this polls one `docker inspect` of all the stack's containers every
0.2 s while `compose up -d` runs, and fails fast: on the first container that exits, restarts or turns
unhealthy (a NeMo Gym server's first restarts aside, see NEMO_RESTARTS_WAITED), on compose failing, or at
the timeout, with the service's state, its last log lines and a hint.
"""

from __future__ import annotations

import http.client
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from pathlib import Path
from typing import TYPE_CHECKING

from gymbox.docker.records import Container
from gymbox.docker.service import CONTAINER_PORT, NEMO_LABEL
from gymbox.errors import StackError

if TYPE_CHECKING:
    from gymbox.docker.stack import Stack

POLL_S = 0.2
LOG_LINES = 30
NOT_CREATED = "not created"
# A NeMo Gym server connects to the stack's shared Ray head as it starts, and on a busy host that connection
# can fail once in a while (Ray's client server gives up on it); the restart policy starts the server again
# and the next connection works. Its first restarts are waited through, not reported as a crash.
NEMO_RESTARTS_WAITED = 4

# {service: state} on every poll, for a live display (`gymbox up`); set with `progress_to`.
ProgressCallback = Callable[[dict[str, str]], None]
_progress: ContextVar[ProgressCallback | None] = ContextVar("gymbox_wait_progress", default=None)


@contextmanager
def progress_to(callback: ProgressCallback) -> Iterator[None]:
    """Within the block, every wait for health reports each service's state to `callback`, e.g.
    `{"policy_model": "healthy", "my_agent": "starting", "my_env-vllm": "not created"}`."""
    token = _progress.set(callback)
    try:
        yield
    finally:
        _progress.reset(token)


def service_states(containers: list[Container], expected: dict[str, int]) -> dict[str, str]:
    """One word per expected service, as Docker sees it: `healthy`, `starting`, `running`, `created`,
    `exited(1)`, ... (a mix is listed, `healthy, starting`); `not created` before compose makes it."""
    states = {}
    for service, replicas in expected.items():
        mine = [c for c in containers if c.service == service]
        words = sorted({c.status for c in mine})
        shown = ", ".join(words) if words else NOT_CREATED
        states[service] = shown if len(mine) >= replicas or not mine else f"{shown} ({len(mine)}/{replicas})"
    return states


def wait_healthy(
    stack: Stack,
    expected: dict[str, int],
    proc: subprocess.Popen[bytes],
    compose_log: Path,
    *,
    timeout: float,
    previous: frozenset[str] | set[str] = frozenset(),
) -> list[Container]:
    """Return the stack's containers once `expected` (service -> replicas) are all healthy.

    `previous`: IDs of containers that existed before this start; compose may be replacing them.
    """
    deadline = time.monotonic() + timeout
    report = _progress.get()
    while True:
        code = proc.poll()  # before listing: once compose is done, the list holds no replaced containers
        containers = stack.containers()
        if report is not None:
            report(service_states(containers, expected))
        failed = [c for c in containers if _given_up(c) and (code is not None or c.id not in previous)]
        if failed:
            raise StackError(describe_failure(stack, failed[0], _failure_hint(stack, failed[0])))
        if code not in (None, 0):
            raise StackError(_compose_failed(stack, code, compose_log, containers))
        if code == 0 and _all_healthy(containers, expected):
            if report is not None:  # some only answered our own probe, which Docker has yet to record
                report(dict.fromkeys(expected, "healthy"))
            return containers
        if time.monotonic() > deadline:
            raise StackError(_timed_out(stack, containers, expected, timeout))
        time.sleep(POLL_S)


def _given_up(c: Container) -> bool:
    """Failed, except a NeMo Gym server that its restart policy is bringing back (see NEMO_RESTARTS_WAITED)."""
    # Docker marks a container that exits unhealthy; while restarting, that is the old run's verdict.
    coming_back = (
        NEMO_LABEL in c.labels
        and c.restart_count <= NEMO_RESTARTS_WAITED
        and (c.state.status == "restarting" or (c.state.status == "running" and c.health != "unhealthy"))
    )
    return c.failed and not coming_back


def _all_healthy(containers: list[Container], expected: dict[str, int]) -> bool:
    for service, replicas in expected.items():
        mine = [c for c in containers if c.service == service]
        if len(mine) < replicas or not all(_healthy(c) for c in mine):
            return False
    return True


def _healthy(c: Container) -> bool:
    if not c.state.running:
        return False
    return c.health in ("healthy", "none") or ready_before_the_engine_says(c)


def ready_before_the_engine_says(c: Container) -> bool:
    """Still `starting` for the engine, whose next probe may be seconds away, but it answers GET /health
    at its container address (where this host reaches those: Linux with a local engine)."""
    return c.state.running and c.health == "starting" and any(answers_health(ip) for ip in c.ip_addresses)


def answers_health(host: str, port: int = CONTAINER_PORT, timeout: float = 0.5) -> bool:
    """GET http://host:port/health answers 200."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.request("GET", "/health")
        return conn.getresponse().status == 200
    except (OSError, http.client.HTTPException):
        return False
    finally:
        conn.close()


def describe_failure(stack: Stack, container: Container, hint: str) -> str:
    """`<service> is <state>`, the last health probe, its last log lines, and a Hint."""
    restarts = f" after {container.restart_count} restart(s)" if container.restart_count else ""
    lines = [
        f"stack {stack.name!r}: service {container.service!r} (container {container.short_name}) is "
        f"{container.status}{restarts}"
    ]
    if container.state.error:
        lines.append(f"engine error: {container.state.error}")
    probe = container.last_probe_output()
    if probe and not _crashed(container):  # a crashed server's probe only says "connection refused"
        lines.append(f"last health check said: {probe.splitlines()[-1][-300:]}")
    logs = stack.logs(container, tail=LOG_LINES)
    lines.append(f"last {LOG_LINES} log lines:" if logs else "(it wrote no log output)")
    lines += [f"  | {line}" for line in logs.splitlines()[-LOG_LINES:]]
    lines.append(f"Hint: {hint}")
    return "\n".join(lines)


def _failure_hint(stack: Stack, c: Container) -> str:
    reproduce = (
        f"Reproduce it outside Docker with `gymbox serve -c {stack.directory}/stack.yaml --name {c.instance}` "
        "(secrets come from its .env)"
    )
    if c.state.oom_killed:
        return f"it ran out of memory: raise `memory` of instance {c.instance!r} in the config"
    if not _crashed(c):
        return (
            f"it runs but GET /health on port 8000 failed until Docker marked it unhealthy; is the server listening on "
            f"0.0.0.0:8000? {reproduce}"
        )
    return f"the server crashed on start; the log above says why. {reproduce}"


def _crashed(c: Container) -> bool:
    """It exited or restarted (as opposed to running but failing its healthcheck)."""
    return not c.state.running or c.state.restarting or c.restart_count > 0


def _compose_failed(stack: Stack, code: int, compose_log: Path, containers: list[Container]) -> str:
    output = compose_log.read_text(errors="replace").strip() if compose_log.exists() else ""
    tail = "\n".join(f"  | {line}" for line in output.splitlines()[-LOG_LINES:])
    hint = "see compose's output above"
    if "No such image" in output or "pull access denied" in output or "not found" in output:
        hint = "an image is missing: `gymbox up` builds gymbox images; pull other images (vLLM) first"
    elif "port is already allocated" in output:
        hint = "a host port is taken; `gymbox down --name " + stack.name + "` and retry"
    elif "nvidia" in output:
        hint = "the vLLM service needs an NVIDIA GPU and the NVIDIA container toolkit on this host"
    states = ", ".join(f"{c.service}: {c.status}" for c in containers) or "no containers yet"
    return (
        f"stack {stack.name!r}: `compose up` failed with exit code {code} (containers: {states}):\n{tail}\nHint: {hint}"
    )


def _timed_out(stack: Stack, containers: list[Container], expected: dict[str, int], timeout: float) -> str:
    waiting = [c for c in containers if c.health != "healthy"]
    missing = [s for s, n in expected.items() if len([c for c in containers if c.service == s]) < n]
    head = f"stack {stack.name!r} was not healthy after {timeout:g} s"
    if waiting:
        return (
            head
            + ":\n"
            + describe_failure(
                stack,
                waiting[0],
                f"it is still `{waiting[0].status}`: a slow start (downloading a model?) needs a larger --timeout; "
                "a server that never answers /health needs its log read",
            )
        )
    return (
        f"{head}: services not created yet: {', '.join(missing) or 'none'} (compose waits for their "
        f"dependencies).\nHint: raise --timeout, or run `gymbox ps --name {stack.name}`"
    )

"""A running stack: its compose project, its labelled containers, bringing it up and tearing it down.

    stack = Stack("weather")
    with stack.up(expected, timeout=120) as containers:  # down again if start fails or is interrupted
        urls = agent_urls(containers)["my_agent"]

Everything a stack makes carries `gymbox.stack=<name>`, and `down` removes by that label (containers,
then networks, then volumes), so it also cleans up after a crashed `up`, a deleted compose folder or
a compose version that lost track. After a killed `up` it first stops the compose process that `up`
left running (see gymbox.docker.up_lock), and it returns only when nothing labelled is left.
"""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from gymbox.docker import client
from gymbox.docker.records import Container, ListedObject, parse_inspect, parse_lines
from gymbox.docker.render import COMPOSE_FILE, compose_root, project_name
from gymbox.docker.service import CACHE_LABEL, CONTAINER_PORT, STACK_LABEL
from gymbox.docker.up_lock import forget_compose, record_compose, stop_recorded_compose
from gymbox.errors import StackError
from gymbox.roles import Role

STOP_TIMEOUT_S = 5
DOWN_WAIT_S = 120.0  # removal passes until nothing labelled is left (a network's endpoints drain)


@dataclass
class Stack:
    name: str
    directory: Path | None = None

    def __post_init__(self) -> None:
        if self.directory is None:
            self.directory = compose_root() / self.name

    @property
    def project(self) -> str:
        return project_name(self.name)

    @property
    def compose_file(self) -> Path:
        assert self.directory is not None
        return self.directory / COMPOSE_FILE

    @property
    def label_filter(self) -> str:
        return f"label={STACK_LABEL}={self.name}"

    # ----------------------------------------------------------------------------------- lifecycle

    def start(self, log_file: Path) -> subprocess.Popen[bytes]:
        """`compose up -d` in the background: it blocks while dependencies get healthy, and meanwhile
        `wait_healthy` watches the containers and can stop it early."""
        if not self.compose_file.is_file():
            raise StackError(f"{self.compose_file} not found; render the stack first (`gymbox render`)")
        argv = client.compose_argv(
            self.project, [str(self.compose_file)], "up", "--detach", "--no-build", "--remove-orphans"
        )
        proc = client.spawn(argv, log_file)
        assert self.directory is not None
        record_compose(self.directory, proc.pid)  # for a `down` after this `up` is killed
        return proc

    @contextmanager
    def up(self, expected: dict[str, int], *, timeout: float = 120) -> Iterator[list[Container]]:
        """Start and wait until every expected service (name -> replicas) is healthy; yield its
        containers. Any failure or interrupt, here or in the `with` body, tears the stack down."""
        from gymbox.docker.wait import wait_healthy

        with self.teardown_on_error(), tempfile.TemporaryDirectory(prefix="gymbox-up-") as tmp:
            self._remove_failed()
            # While compose runs, a container of the previous run may be stopped on its way to being
            # replaced (a changed config): that is no failure of this start.
            previous = {c.id for c in self.containers()}
            log_file = Path(tmp) / "compose.log"
            proc = self.start(log_file)
            try:
                containers = wait_healthy(self, expected, proc, log_file, timeout=timeout, previous=previous)
            finally:
                _stop(proc)
                assert self.directory is not None
                forget_compose(self.directory)
            yield containers

    def _remove_failed(self) -> None:
        """Containers a previous run left exited or unhealthy: compose would restart them as they are, and
        the wait would take them for this start's failure. Fresh ones are made instead."""
        failed = [c.id for c in self.containers() if c.failed]
        if failed:
            client.docker("rm", "--force", "--volumes", *failed, timeout=120)

    @contextmanager
    def teardown_on_error(self) -> Iterator[Stack]:
        try:
            yield self
        except BaseException:  # KeyboardInterrupt and SIGTERM too: leave nothing running
            self.down()
            raise

    def down(self, *, keep_cache: bool = False) -> dict[str, int]:
        """Stop a compose process a killed `up` left running, then remove every container, network and
        volume labelled with this stack, until none is left; counts of each."""
        assert self.directory is not None
        stop_recorded_compose(self.directory)
        return remove_labelled(self.label_filter, keep_cache=keep_cache)

    # ----------------------------------------------------------------------------------- queries

    def containers(self) -> list[Container]:
        return find_containers(self.label_filter)

    def logs(self, container: Container | str, tail: int | None = 30) -> str:
        ref = container.id if isinstance(container, Container) else container
        args = ["logs", "--timestamps"] if tail is None else ["logs", "--tail", str(tail)]
        result = client.docker(*args, ref, check=False, timeout=30)
        return (result.stdout + result.stderr).rstrip()


def _stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def find_containers(label_filter: str) -> list[Container]:
    """Containers (running or not) matching a `label=...` filter, inspected, in replica order."""
    ids = client.docker("ps", "--all", "--quiet", "--no-trunc", "--filter", label_filter).stdout.split()
    if not ids:
        return []
    result = client.docker("inspect", *ids, check=False)  # one may vanish between ps and inspect
    containers = parse_inspect(result.stdout) if result.stdout.strip() else []
    return sorted(containers, key=lambda c: (c.stack, c.service, c.number))


def _listed(kind: str, label_filter: str) -> list[ListedObject]:
    out = client.docker(kind, "ls", "--filter", label_filter, "--format", "{{json .}}").stdout
    return parse_lines(out)


def remove_labelled(label_filter: str, *, keep_cache: bool = False, wait_s: float = DOWN_WAIT_S) -> dict[str, int]:
    """Stop (SIGTERM, then SIGKILL after 5 s) and remove containers, then networks, then volumes, in
    passes until one finds nothing left: a create that was in flight lands late, and a network refuses
    removal ("has active endpoints") until its containers' endpoints are gone. A StackError naming what
    is left after `wait_s`."""
    removed: dict[str, set[str]] = {"containers": set(), "networks": set(), "volumes": set()}
    deadline = time.monotonic() + wait_s
    while True:
        left: list[str] = []
        errors: list[str] = []
        ids = client.docker("ps", "--all", "--quiet", "--filter", label_filter).stdout.split()
        if ids:
            client.docker("stop", "--time", str(STOP_TIMEOUT_S), *ids, check=False, timeout=120)
            result = client.docker("rm", "--force", "--volumes", *ids, check=False, timeout=120)
            errors += [result.stderr.strip()] if result.returncode else []
            removed["containers"].update(ids)
            left += [f"container {i}" for i in ids]
        for kind in ("network", "volume"):
            refs = [o.ref for o in _listed(kind, label_filter) if not (keep_cache and o.labels.get(CACHE_LABEL))]
            for ref in refs:
                result = client.docker(kind, "rm", *(["--force"] if kind == "volume" else []), ref, check=False)
                if result.returncode == 0:
                    removed[f"{kind}s"].add(ref)
                else:
                    errors.append(result.stderr.strip())
            left += [f"{kind} {ref}" for ref in refs]
        if not left:
            return {kind: len(refs) for kind, refs in removed.items()}
        if time.monotonic() > deadline:
            raise StackError(
                f"after {wait_s:g} s of removal, {label_filter} still has: {', '.join(left[:5])}; last error: "
                f"{errors[-1] if errors else 'none'}. Hint: `docker ps -a --filter {label_filter}` shows what holds it"
            )
        if errors:
            time.sleep(0.5)


def running_stacks() -> list[str]:
    """Names of stacks with at least one container (running or not)."""
    out = client.docker(
        "ps", "--all", "--filter", f"label={STACK_LABEL}", "--format", '{{.Label "' + STACK_LABEL + '"}}'
    ).stdout
    return sorted({line.strip() for line in out.splitlines() if line.strip()})


def all_stack_names() -> list[str]:
    """Every stack that left anything behind: containers, networks or volumes."""
    names = set(running_stacks())
    for kind in ("network", "volume"):
        names.update(o.labels.get(STACK_LABEL, "") for o in _listed(kind, f"label={STACK_LABEL}"))
    return sorted(n for n in names if n)


def agent_urls(containers: list[Container]) -> dict[str, list[str]]:
    """Where a stack's agents listen: {agent instance: `http://127.0.0.1:<host port>` of each running
    replica, in replica order}, from its containers (`Stack(name).containers()`).

    `up` prints them; the collector sends to them (or to `agent_addresses`), and looks them up again when
    an agent restarts on a new published port.
    """
    return _running_agents(
        containers,
        lambda c: [
            f"http://{ip if ip not in ('0.0.0.0', '::') else '127.0.0.1'}:{port}"
            for ip, port in c.host_ports(CONTAINER_PORT)
        ],
    )


def agent_addresses(containers: list[Container]) -> dict[str, list[str]]:
    """{agent instance: `http://<container ip>:<port>` of each running replica}: where a Linux host with a
    local engine reaches its agents without a published port (and the docker-proxy process behind it)."""
    return _running_agents(containers, lambda c: [f"http://{ip}:{CONTAINER_PORT}" for ip in c.ip_addresses[:1]])


def _running_agents(containers: list[Container], urls_of: Callable[[Container], list[str]]) -> dict[str, list[str]]:
    """{agent instance: `urls_of` each of its running replicas, in order}, agents without any left out."""
    urls: dict[str, list[str]] = {}
    for c in containers:
        if c.role == Role.RESPONSES_API_AGENTS and c.state.running:
            urls.setdefault(c.instance, []).extend(urls_of(c))
    return {name: found for name, found in sorted(urls.items()) if found}

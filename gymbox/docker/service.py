"""What a rendered compose service is made of, and the labels gymbox puts on everything it starts."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

CONTAINER_PORT = 8000
CONFIG_PATH = "/etc/gymbox/stack.yaml"
USER = "10001:10001"  # the runtime image's `gymbox` user
STACK_LABEL = "gymbox.stack"
INSTANCE_LABEL = "gymbox.instance"
ROLE_LABEL = "gymbox.role"
NEMO_LABEL = "gymbox.nemo_gym"  # the nemo-gym version a NeMo Gym server (or its Ray head) runs
CONFIG_LABEL = "gymbox.config"  # hash of the stack.yaml a container was started with
CACHE_LABEL = "gymbox.cache"  # on volumes worth keeping across stacks (model weights)

# bash builtins only (/dev/tcp, read): no curl in the image, and no interpreter to start. The probe runs
# every second in every container; measured on engine 20.10 it costs ~24 ms of CPU per container-second,
# against ~44 ms for `python -S` with a socket and ~63 ms for `python -c "import urllib.request"`.
HEALTH_PROBE = (
    'exec 3<>/dev/tcp/127.0.0.1/%d && printf "GET %s HTTP/1.0\\r\\n\\r\\n" >&3 '
    '&& read -r status <&3 && [[ $status == *" 200 "* ]]'
)
HEALTH_PATH = "/health"  # gymbox servers; NeMo Gym servers answer `GET /` (gymbox.nemo.runtime)


# How often the engine probes a server whose readiness `up` sees itself (GET /health on port 8000 at the
# container's address, docker/wait.py) and whose dependents start without waiting for the engine's verdict
# (`probed_by_up`). Each probe is an exec into the container, about 50 ms of the engine's CPU: at one a
# second, an idle 3-container stack kept a 2-core host 7 % busy, and 27 containers most of a core. Other
# servers (NeMo Gym's, vLLM, the Ray head) keep a short interval: `up` and their dependents wait on it.
SERVER_PROBE_INTERVAL = "10s"


def healthcheck(
    port: int = CONTAINER_PORT, *, path: str = HEALTH_PATH, interval: str | None = None, start_period: str = "60s"
) -> dict[str, Any]:
    """Compose healthcheck on `path`. `interval`: SERVER_PROBE_INTERVAL where `up` probes the same port and
    path itself, else 1 s (engine 20.10 has no start_interval: a short interval is the only way a container
    is seen healthy soon after it listens; the default is 30 s).

    Timeout and retries are generous because a busy host (a 27-container stack starting on 2 cores) can
    delay a probe by seconds; 2 s and 3 retries marked healthy servers unhealthy there, failing `up`."""
    if interval is None:
        interval = SERVER_PROBE_INTERVAL if (port, path) == (CONTAINER_PORT, HEALTH_PATH) else "1s"
    return {
        "test": ["CMD", "bash", "-c", HEALTH_PROBE % (port, path)],
        "interval": interval,
        "timeout": "10s",
        "retries": 5,
        "start_period": start_period,
    }


def serve_command(instance: str) -> list[str]:
    """What a gymbox container runs: one instance of the stack config mounted at CONFIG_PATH."""
    return [
        "gymbox",
        "serve",
        "-c",
        CONFIG_PATH,
        "--name",
        instance,
        "--host",
        "0.0.0.0",
        "--port",
        str(CONTAINER_PORT),
    ]


@dataclass
class Service:
    name: str
    image: str
    labels: dict[str, str]
    command: list[str] = field(default_factory=list)
    healthcheck: dict[str, Any] = field(default_factory=dict)
    depends_on: list[str] = field(default_factory=list)
    # Of `depends_on`, those it needs started, not healthy: servers `up` sees ready itself (`probed_by_up`;
    # gymbox servers reach their peers only per request), and NeMo Gym servers, which may restart once while
    # they connect to Ray (docker/wait.py), and compose would give up on their dependents when they do.
    started_deps: list[str] = field(default_factory=list)
    publish: bool = False  # agents only: 127.0.0.1::8000, an ephemeral host port per replica
    host_port: int | None = None  # instead, this fixed host port (NeMo agents and head: NeMo's clients dial it)
    replicas: int = 1
    cpus: float | None = None
    memory: str | None = None
    restart: str = "unless-stopped"
    user: str | None = USER
    gymbox: bool = True  # runs `gymbox serve`: gets the stack.yaml mount
    nemo_gym: bool = False  # a NeMo Gym server (gymbox.nemo.runtime): gets init and .env, not the stack.yaml
    init: bool = True  # tini as PID 1 (gymbox and NeMo Gym services only)
    # Gets its own instance's secrets in `environment` (render); the sandbox none: the code it runs can read it.
    secrets: bool = True
    environment: dict[str, str] = field(default_factory=dict)  # values may be compose ${VAR} references
    volumes: list[str] = field(default_factory=list)
    gpus: int | None = None
    shm_size: str | None = None
    networks: list[str] = field(default_factory=lambda: ["default"])
    placement: list[str] = field(default_factory=list)  # Swarm constraints (the compose path ignores them)
    # Hardening, used by the sandbox (gymbox.docker.sandbox):
    read_only: bool = False
    tmpfs: list[str] = field(default_factory=list)
    cap_drop: list[str] = field(default_factory=list)
    cap_add: list[str] = field(default_factory=list)  # after cap_drop ALL: the few the sandbox server keeps
    security_opt: list[str] = field(default_factory=list)
    pids_limit: int | None = None
    comment: str = ""

    @property
    def probed_by_up(self) -> bool:
        """`up` sees it ready itself: its healthcheck asks GET /health on port 8000, which `up` also asks."""
        return bool(self.healthcheck) and self.healthcheck["test"] == healthcheck()["test"]

"""The container of a `sandboxes` instance, and the network that keeps it off the internet.

DESIGN.md §5: untrusted code runs in a service of its own on an `internal` network (no route out, not
even to the stack's default network), as a user id no other gymbox container uses, with a read-only
root filesystem and a small tmpfs at /tmp, no capabilities, no privilege gain, a pids limit, and a
memory limit sized for `max_concurrency` runs at once. Only the services whose config names the
sandbox join its network. It gets no .env: code it runs could read secrets from the server's environment.
The executor inside (gymbox.sandbox) adds the per-run limits.
"""

from __future__ import annotations

from typing import Any

from gymbox.config import ServerInstance, validate_fields
from gymbox.docker.images import StackImages
from gymbox.docker.service import CONFIG_PATH, CONTAINER_PORT, Service, healthcheck

# Not the runtime's 10001: RLIMIT_NPROC counts a user's processes across the whole host, so the
# sandboxed code must not share its user with every other gymbox container.
SANDBOX_USER = "10002:10002"
SERVER_MEMORY_MB = 256  # the sandbox server itself, beside its runs


def network_name(instance: str) -> str:
    return f"{instance}-net"


def _config(inst: ServerInstance) -> Any:
    from gymbox.sandbox.server import PythonSandboxServer

    return validate_fields(inst, PythonSandboxServer.Config)


def sandbox_service(inst: ServerInstance, images: StackImages, labels: dict[str, str]) -> Service:
    config = _config(inst)
    image = images.environments[config.environment] if config.environment else images.runtime
    cfg = inst.config
    memory = cfg.memory or f"{config.max_concurrency * config.limits.memory_mb + SERVER_MEMORY_MB}m"
    return Service(
        name=inst.name,
        image=image,
        labels=labels,
        command=[
            "gymbox",
            "serve",
            "-c",
            CONFIG_PATH,
            "--name",
            inst.name,
            "--host",
            "0.0.0.0",
            "--port",
            str(CONTAINER_PORT),
        ],
        healthcheck=healthcheck(),
        replicas=cfg.replicas,
        cpus=cfg.cpus,
        memory=memory,
        restart=cfg.restart,
        # No init: the server itself is PID 1, which the kernel shields from SIGKILL sent by its runs.
        user=SANDBOX_USER,
        secrets=False,
        init=False,
        environment={"HOME": "/tmp"},
        networks=[network_name(inst.name)],
        read_only=True,
        tmpfs=[f"/tmp:size={config.tmpfs_mb}m,mode=1777"],
        cap_drop=["ALL"],
        security_opt=["no-new-privileges:true"],
        pids_limit=config.pids_limit,
        comment="Runs untrusted code: internal network only, read-only root, no capabilities (DESIGN.md §5).",
    )

"""The container of a `sandboxes` instance, and the network that keeps it off the internet.

Untrusted code runs in a service of its own on an `internal` network (no route out, not even to the
stack's default network; and its runs may open no network socket at all, gymbox.sandbox.seccomp), with a
read-only root filesystem, no privilege gain, a pids limit, and a memory limit sized for
`max_concurrency` runs and their folders at once. The server is PID 1 and root with six capabilities
(CHOWN, DAC_OVERRIDE, FOWNER, KILL, SETGID, SETUID), which it needs to run each concurrent run as a user
of its own and to clean up after it; runs keep none. Each run slot's folder is a tmpfs of its own
(`disk_mb`, a disk quota per run). Only the services whose config names the sandbox join its network. It
gets no .env: code it runs could read secrets from the server's environment. See docs/sandbox.md.
"""

from __future__ import annotations

from typing import Any

from gymbox.config import ServerInstance, validate_fields
from gymbox.docker.images import StackImages
from gymbox.docker.service import Service, healthcheck, serve_command
from gymbox.sandbox.slots import ROOT_ENV

# Root in the container, with only what switching to the run users and cleaning up after them takes.
# The runs themselves get uids of their own and no capabilities (gymbox.sandbox.slots).
SANDBOX_USER = "0:0"
SANDBOX_CAPABILITIES = ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]
SLOTS_ROOT = "/sandbox"  # slot i's folder is SLOTS_ROOT/slot-i, a tmpfs of disk_mb
SLOT_INODES = 16384  # files and folders one run may create in its folder
SHM_MB = 64  # Docker's default /dev/shm, shared by the runs (each one's files removed when it ends)
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
    # tmpfs pages count against the container's memory: every run at its limit with a full folder, the
    # shared /tmp and /dev/shm, and the server.
    per_run = config.limits.memory_mb + config.disk_mb
    memory = cfg.memory or f"{config.max_concurrency * per_run + config.tmpfs_mb + SHM_MB + SERVER_MEMORY_MB}m"
    slots = [
        f"{SLOTS_ROOT}/slot-{i}:size={config.disk_mb}m,mode=0700,nr_inodes={SLOT_INODES}"
        for i in range(config.max_concurrency)
    ]
    return Service(
        name=inst.name,
        image=image,
        labels=labels,
        command=serve_command(inst.name),
        healthcheck=healthcheck(),
        replicas=cfg.replicas,
        cpus=cfg.cpus,
        memory=memory,
        restart=cfg.restart,
        # No init: the server itself is PID 1, which the kernel shields from SIGKILL sent by its runs.
        user=SANDBOX_USER,
        secrets=False,
        init=False,
        environment={"HOME": "/tmp", ROOT_ENV: SLOTS_ROOT},
        networks=[network_name(inst.name)],
        read_only=True,
        tmpfs=[f"/tmp:size={config.tmpfs_mb}m,mode=1777", *slots],
        cap_drop=["ALL"],
        cap_add=SANDBOX_CAPABILITIES,
        security_opt=["no-new-privileges:true"],
        pids_limit=config.pids_limit,
        comment="Runs untrusted code: internal network only, read-only root, a user and a tmpfs per run "
        "(docs/sandbox.md).",
    )

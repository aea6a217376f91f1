"""How a NeMo Gym server runs in a stack: the config it reads, and its compose service.

NeMo Gym's `ng_run` starts each server as `python <entrypoint>` in the server's folder with two
environment variables: `NEMO_GYM_CONFIG_DICT`, the whole resolved config (YAML or JSON text), and
`NEMO_GYM_CONFIG_PATH`, the server's own instance name. The server reads its fields, its peers' host and
port, and `head_server` from that dict. Servers never call the head server (only clients such as
`ng_collect_rollouts` fetch the config from it): a stack with NeMo agents runs one for those clients
(gymbox.nemo.head), published on the host; otherwise `head_server` names a port nothing serves.

Secrets stay out of the rendered compose file: the dict says `${oc.env:GYMBOX_SECRET_...}` (OmegaConf's own
resolver, which NeMo resolves when it reads its fields) for the server's own secrets, whose values the
container gets from the stack's `.env` like any gymbox server; it holds no other instance's secrets.
Liveness is NeMo's `GET /` (`{"status": "ok"}`); there is no `/health`.

Every NeMo server calls `ray.init()` as it starts; without `ray_head_node_address` each would start a Ray
cluster of its own (about 800 MiB and tens of seconds of CPU per container; several starting at once on a
small machine time out). As `ng_run` does, the stack runs one Ray head per nemo-gym version (the
`nemo_ray_<version>` service, in a server image of that version) and every server's dict names it:
`ray_head_node_address: ray://<service>:10001` (Ray Client, since the server containers run no raylet).
A server that defines Ray tasks (`@ray.remote`, e.g. code_gen) is the exception: Ray runs a task on a
node of the cluster with the server's Python and PYTHONPATH, which only the server's own container has,
so it starts its own Ray there, as it does standalone (`runs_ray_tasks`).
"""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import urlsplit

from gymbox.config import ResolvedConfig, ServerInstance, is_secret_key
from gymbox.docker.service import (
    CONTAINER_PORT,
    INSTANCE_LABEL,
    NEMO_LABEL,
    ROLE_LABEL,
    STACK_LABEL,
    Service,
    healthcheck,
)
from gymbox.nemo.images import USER
from gymbox.nemo.servers import GYMBOX_FIELDS, NemoServer, is_nemo_server, nemo_server

CONFIG_DICT_VAR = "NEMO_GYM_CONFIG_DICT"
CONFIG_PATH_VAR = "NEMO_GYM_CONFIG_PATH"
LIVENESS_PATH = "/"
HEAD_SERVER_PORT = 11000  # NeMo's default (its clients' too); in containers nothing listens there (see above)
RAY_CLIENT_PORT = 10001
RAY_ROLE = "nemo_ray"
RAY_OBJECT_STORE_BYTES = 100_000_000  # servers pass small objects; Ray's default is 30% of memory
# nemo_gym's imports (Ray, MLflow, datasets, ...) take tens of seconds of CPU, minutes when several servers
# start at once on a small, busy host: give them time before a failed probe counts.
START_PERIOD = "600s"
# Top-level keys NeMo's config parser fills in before servers start; servers read some of them directly.
PARSER_DEFAULTS: dict[str, Any] = {
    "dry_run": False,
    "use_absolute_ip": False,
    "port_range_low": 10_001,
    "port_range_high": 20_000,
    "disallowed_ports": [],
    "skip_venv_if_present": True,
}


def ray_service_name(version: str) -> str:
    return f"{RAY_ROLE}_{version.replace('.', '_').replace('-', '_').replace('+', '_')}"


def ray_address(version: str) -> str:
    return f"ray://{ray_service_name(version)}:{RAY_CLIENT_PORT}"


def runs_ray_tasks(server: NemoServer) -> bool:
    """Whether the server's own code (its tests aside) defines Ray tasks."""
    for path in server.folder.rglob("*.py"):
        if {"tests", ".venv"} & set(path.relative_to(server.folder).parts):
            continue
        if "ray.remote" in path.read_text(encoding="utf-8", errors="replace"):
            return True
    return False


def url_address(url: str) -> dict[str, Any]:
    """NeMo's `host` and `port` of an instance outside the stack (`url:`): NeMo dials http://host:port."""
    parts = urlsplit(url)
    return {"host": parts.hostname or "", "port": parts.port or (443 if parts.scheme == "https" else 80)}


def ray_head_service(version: str, image: str, stack_name: str) -> Service:
    """The stack's Ray head for its NeMo servers of `version` (any of their images: each holds Ray)."""
    name = ray_service_name(version)
    probe = healthcheck(interval="1s", start_period="120s")  # the servers start once it is healthy
    probe["test"] = ["CMD", "bash", "-c", f"exec 3<>/dev/tcp/127.0.0.1/{RAY_CLIENT_PORT}"]
    return Service(
        name=name,
        image=image,
        labels={STACK_LABEL: stack_name, INSTANCE_LABEL: name, ROLE_LABEL: RAY_ROLE, NEMO_LABEL: version},
        command=[
            "ray",
            "start",
            "--head",
            "--block",
            "--include-dashboard=false",
            f"--ray-client-server-port={RAY_CLIENT_PORT}",
            f"--object-store-memory={RAY_OBJECT_STORE_BYTES}",
            "--disable-usage-stats",
        ],
        healthcheck=probe,
        user=USER,
        gymbox=False,
        nemo_gym=True,
        secrets=False,
        shm_size="256m",
        # Each server is a Ray Client; the head starts a process per client, which on a loaded host takes
        # longer than Ray's default 30 s wait. That process sometimes dies as it is forked (a gRPC race in
        # Ray's client proxier, ray-project/ray#63202); its client waits this long before failing, and the
        # restart policy starts the server again: long enough for a slow start, short enough to retry.
        environment={"RAY_CLIENT_SERVER_CHECK_CHANNEL_TIMEOUT_S": "120"},
        comment=f"Ray head shared by the stack's NeMo Gym {version} servers (as ng_run shares one)",
    )


def nemo_config_dict(stack: ResolvedConfig, own: str | None, secret_names: dict[str, str]) -> dict[str, Any]:
    """The NEMO_GYM_CONFIG_DICT of instance `own` in a stack as its containers see it (`stack` already
    at service:8000); with `own` None, no instance's (the head server's, gymbox.nemo.head).

    Every instance keeps NeMo's shape `{name: {role: {implementation: fields}}}` without gymbox's
    deployment keys (replicas, cpus, ...); a NeMo server's fields gain `entrypoint` if missing. NeMo
    binds to its own `host`, which peers also dial: `own` binds 0.0.0.0 (the healthcheck probes
    127.0.0.1), peers dial service names. Only `own`'s secrets are in it, as `${oc.env:NAME}`
    (`secret_names`: secret value -> .env name); other instances' and top-level secrets are left out.
    """
    out: dict[str, Any] = {}
    for name, inst in stack.instances.items():
        fields = inst.config.model_dump(exclude_none=True)
        fields = {k: v for k, v in fields.items() if k not in GYMBOX_FIELDS or k in ("host", "port")}
        if inst.config.url:
            fields.update(url_address(inst.config.url))  # where it is, not the port gymbox assigned
        if is_nemo_server(inst):
            fields.setdefault("entrypoint", "app.py")
        if name == own:
            fields["host"] = "0.0.0.0"
        names = secret_names if name == own else None
        out[name] = {str(inst.role): {inst.implementation: _omegaconf_text(fields, names, secret=False)}}
    for key, value in {**PARSER_DEFAULTS, **stack.variables}.items():
        if not is_secret_key(key):
            out[key] = _omegaconf_text(value, None, secret=False)
    # NeMo's servers validate `head_server` as they start: a `{port: N}` given for the head (gymbox.nemo.head)
    # still needs a host.
    given = out.get("head_server")
    out["head_server"] = {"host": "127.0.0.1", "port": HEAD_SERVER_PORT, **(given if isinstance(given, dict) else {})}
    own_inst = stack.instances[own] if own is not None else None
    if own_inst is not None and is_nemo_server(own_inst):
        server = nemo_server(own_inst)
        if not runs_ray_tasks(server):
            out.setdefault("ray_head_node_address", ray_address(server.version))
    return out


_DROP = object()


def _omegaconf_text(value: Any, secret_names: dict[str, str] | None, *, secret: bool) -> Any:
    """Secrets as `${oc.env:NAME}` (dropped when `secret_names` is None); a literal `${` escaped for
    OmegaConf (`\\${`)."""
    if isinstance(value, dict):
        out = {k: _omegaconf_text(v, secret_names, secret=is_secret_key(str(k))) for k, v in value.items()}
        return {k: v for k, v in out.items() if v is not _DROP}
    if isinstance(value, list):
        items = [_omegaconf_text(v, secret_names, secret=secret) for v in value]
        return [v for v in items if v is not _DROP]
    if secret and value not in (None, "") and not isinstance(value, bool):
        if secret_names is None or str(value) not in secret_names:
            return _DROP
        return "${oc.env:" + secret_names[str(value)] + "}"
    if isinstance(value, str):
        return value.replace("${", "\\${")
    return value


def nemo_service(
    inst: ServerInstance,
    server: NemoServer,
    image: str,
    labels: dict[str, str],
    config_dict: dict[str, Any],
    depends_on: list[str],
) -> Service:
    """The compose service of a NeMo Gym server: `python <entrypoint>` with NeMo's two variables."""
    text = json.dumps(config_dict, separators=(",", ":"), ensure_ascii=False)
    cfg = inst.config
    return Service(
        name=inst.name,
        image=image,
        labels={**labels, NEMO_LABEL: server.version},
        command=["python", server.entrypoint],
        healthcheck=healthcheck(CONTAINER_PORT, path=LIVENESS_PATH, start_period=START_PERIOD),
        depends_on=[*depends_on, ray_service_name(server.version)],
        replicas=cfg.replicas,
        cpus=cfg.cpus,
        memory=cfg.memory,
        restart=cfg.restart,
        user=USER,
        gymbox=False,
        nemo_gym=True,
        # `$$`: compose would read `${oc.env:...}` as its own interpolation.
        environment={CONFIG_DICT_VAR: text.replace("$", "$$"), CONFIG_PATH_VAR: inst.name},
        comment=f"NeMo Gym server {server.folder_name} (nemo-gym {server.version})",
    )

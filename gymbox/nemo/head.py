"""A NeMo Gym head server for NeMo's own clients (`ng_collect_rollouts`, `ng_status`, ...) on the host.

NeMo's clients find a run's servers by asking its head server (`head_server.host:port`, default
127.0.0.1:11000) for `GET /global_config_dict_yaml`, then dial each server's `host:port` in that dict.
So a stack with NeMo Gym agents runs NeMo's own `HeadServer` as the `nemo_head` service, published on
127.0.0.1 at `head_server.port` (a top-level config value, default 11000), serving the stack as the
host sees it: each NeMo agent at 127.0.0.1 and its instance's `port`, where the agent's container is
published (a fixed port, so the dict is known when the stack is rendered). Other instances keep their
in-stack address (`<service>:8000`), which only the stack's containers reach: NeMo's clients call agents.

Only stacks with NeMo agents run one: gymbox's own agents are reached with `gymbox rollout`, on ports
Docker picks per replica. The dict holds no secrets (the head's clients need none).
"""

from __future__ import annotations

import json
from typing import Any

from gymbox.config import ResolvedConfig, ServerInstance
from gymbox.docker.service import CONTAINER_PORT, INSTANCE_LABEL, ROLE_LABEL, STACK_LABEL, Service, healthcheck
from gymbox.errors import ConfigError
from gymbox.nemo.images import USER
from gymbox.nemo.runtime import CONFIG_DICT_VAR, HEAD_SERVER_PORT, LIVENESS_PATH, nemo_config_dict
from gymbox.nemo.servers import is_nemo_server
from gymbox.roles import Role

HEAD_SERVICE = "nemo_head"
HEAD_ROLE = "nemo_head"
HEAD_KEY = "head_server"  # NeMo's top-level key
HOST = "127.0.0.1"
INSTANCES_VAR = "GYMBOX_NEMO_HEAD_INSTANCES"  # what `GET /server_instances` lists (`ng_status` reads it)
# NeMo's HeadServer app, served on the container's port (`HeadServer.run_webserver` would bind the dict's
# head_server address, which is the host's view).
_SERVE = f"""\
import json, os, uvicorn
from nemo_gym.server_utils import BaseServerConfig, HeadServer
head = HeadServer(config=BaseServerConfig(host="0.0.0.0", port={CONTAINER_PORT}))
head.set_server_instances(json.loads(os.environ["{INSTANCES_VAR}"]))
uvicorn.run(head.setup_webserver(), host="0.0.0.0", port={CONTAINER_PORT})
"""


def nemo_agents(stack: ResolvedConfig) -> list[ServerInstance]:
    """The stack's agents that run NeMo Gym's code in the stack (not `url:` ones)."""
    return [inst for inst in stack.by_role(Role.RESPONSES_API_AGENTS) if is_nemo_server(inst) and not inst.config.url]


def head_port(stack: ResolvedConfig) -> int:
    """`head_server.port`, else NeMo's default 11000; errors name the file:line."""
    value = stack.variables.get(HEAD_KEY) or {}
    port = value.get("port", HEAD_SERVER_PORT) if isinstance(value, dict) else None
    if not isinstance(port, int) or isinstance(port, bool) or not 1 <= port <= 65535:
        raise ConfigError(
            f"{stack.where((HEAD_KEY,))}: {HEAD_KEY}: expected {{port: 1..65535}} (the NeMo head server's "
            f"port on the host), got {value!r}"
        )
    return port


def agent_host_port(inst: ServerInstance) -> int:
    """The fixed host port a NeMo agent is published on: its instance's `port` (config.py assigns one)."""
    if inst.config.replicas != 1:
        raise ConfigError(
            f"{inst.source}: {inst.name}: replicas: {inst.config.replicas}: a NeMo Gym agent is published on "
            "one fixed host port (its `port`), where NeMo's clients dial it; run one replica"
        )
    if inst.config.port is None:
        raise ConfigError(f"{inst.source}: {inst.name}: a NeMo Gym agent needs a `port` (its port on the host)")
    return inst.config.port


def host_config_dict(inside: ResolvedConfig, host_ports: dict[str, int], port: int) -> dict[str, Any]:
    """The dict the head serves: `inside` (the containers' view) with NeMo agents at 127.0.0.1:<host port>
    and the head itself at 127.0.0.1:`port`; no secrets."""
    view = inside.model_copy(deep=True)
    for name, host_port in host_ports.items():
        view.instances[name].config.host = HOST
        view.instances[name].config.port = host_port
    out = nemo_config_dict(view, None, {})
    out[HEAD_KEY] = {"host": HOST, "port": port}
    return out


def server_instances(host_ports: dict[str, int]) -> list[dict[str, Any]]:
    """NeMo's process table, as `ng_run` fills it: here the NeMo agents, at their host ports."""
    return [
        {
            "process_name": name,
            "server_type": Role.RESPONSES_API_AGENTS.value,
            "name": name,
            "host": HOST,
            "port": port,
            "url": f"http://{HOST}:{port}",
        }
        for name, port in sorted(host_ports.items())
    ]


def head_service(inside: ResolvedConfig, host_ports: dict[str, int], port: int, image: str, stack: str) -> Service:
    """The `nemo_head` service, in a NeMo server image (each holds nemo-gym)."""
    text = json.dumps(host_config_dict(inside, host_ports, port), separators=(",", ":"), ensure_ascii=False)
    return Service(
        name=HEAD_SERVICE,
        image=image,
        labels={STACK_LABEL: stack, INSTANCE_LABEL: HEAD_SERVICE, ROLE_LABEL: HEAD_ROLE},
        command=["python", "-c", _SERVE],
        healthcheck=healthcheck(CONTAINER_PORT, path=LIVENESS_PATH, start_period="300s"),
        host_port=port,
        user=USER,
        gymbox=False,
        nemo_gym=True,
        secrets=False,
        # `$$`: compose would read a `${` in a value as its own interpolation.
        environment={
            CONFIG_DICT_VAR: text.replace("$", "$$"),
            INSTANCES_VAR: json.dumps(server_instances(host_ports)),
        },
        comment=f"NeMo Gym head server for NeMo's clients on the host: http://{HOST}:{port}",
    )

"""What `gymbox up` and `gymbox ps` show of a stack: one row per service, with where its agents listen,
as a rich table or as plain records for `--json`."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from gymbox.docker.records import Container
from gymbox.docker.service import CONTAINER_PORT
from gymbox.docker.stack import agent_urls
from gymbox.docker.wait import ready_before_the_engine_says
from gymbox.roles import Role

if TYPE_CHECKING:
    from rich.table import Table

_ROLE_NAMES = {
    Role.RESPONSES_API_AGENTS: "agent",
    Role.RESPONSES_API_MODELS: "model",
    Role.RESOURCES_SERVERS: "resources",
    Role.SANDBOXES: "sandbox",
    "vllm": "vllm",
    "nemo_head": "nemo head",
}


def service_rows(containers: list[Container], *, verified: bool = False) -> list[dict[str, Any]]:
    """One record per service: service, role, replicas, states, image, urls.

    `verified`: `up` just saw every container answer /health. Otherwise a container the engine still calls
    `starting` (its probe runs every 10 s) is asked itself, and shows as healthy when it answers."""
    services: dict[str, list[Container]] = {}
    for c in containers:
        services.setdefault(c.service, []).append(c)
    rows = []
    for service, members in services.items():
        # Besides agents, only the NeMo head server (gymbox.nemo.head) publishes a port: show it too.
        urls = agent_urls(members).get(members[0].instance, []) or _published(members)
        rows.append(
            {
                "service": service,
                "role": _ROLE_NAMES.get(members[0].role, members[0].role or "?"),
                "replicas": len(members),
                "states": sorted({_state(c, verified) for c in members}),
                "image": members[0].config.image,
                "urls": urls,
            }
        )
    return rows


def _state(c: Container, verified: bool) -> str:
    if c.state.running and (verified or ready_before_the_engine_says(c)):
        return "healthy"
    return c.status


def _published(members: list[Container]) -> list[str]:
    return [
        f"http://127.0.0.1:{port}" for c in members if c.state.running for _ip, port in c.host_ports(CONTAINER_PORT)
    ]


def stack_table(stack_name: str, containers: list[Container], *, verified: bool = False) -> Table:
    from rich.table import Table

    table = Table(title=f"stack {stack_name}", title_justify="left")
    for column in ("service", "role", "replicas", "state", "image", "url"):
        table.add_column(column, overflow="fold")
    for row in service_rows(containers, verified=verified):
        table.add_row(
            row["service"],
            row["role"],
            str(row["replicas"]),
            ", ".join(row["states"]),
            row["image"],
            "\n".join(row["urls"]) or "-",
        )
    return table

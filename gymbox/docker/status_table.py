"""The table `gymbox up` and `gymbox ps` print: one row per instance, with where its agents listen."""

from __future__ import annotations

from typing import TYPE_CHECKING

from gymbox.docker.records import Container
from gymbox.docker.service import AGENT_ROLE, CONTAINER_PORT

if TYPE_CHECKING:
    from rich.table import Table

_ROLE_NAMES = {
    "responses_api_agents": "agent",
    "responses_api_models": "model",
    "resources_servers": "resources",
    "sandboxes": "sandbox",
    "vllm": "vllm",
}


def stack_table(stack_name: str, containers: list[Container], *, verified: bool = False) -> Table:
    """`verified`: `up` just saw every container answer /health, which Docker's own (1 s) probe may
    not have recorded yet; show those as healthy rather than `starting`."""
    from rich.table import Table

    table = Table(title=f"stack {stack_name}", title_justify="left")
    for column in ("service", "role", "replicas", "state", "image", "url"):
        table.add_column(column, overflow="fold")
    services: dict[str, list[Container]] = {}
    for c in containers:
        services.setdefault(c.service, []).append(c)
    for service, members in services.items():
        states = sorted({"healthy" if verified and c.state.running else c.status for c in members})
        urls = []
        if members[0].role == AGENT_ROLE:
            for c in members:
                urls += [f"http://127.0.0.1:{port}" for _ip, port in c.host_ports(CONTAINER_PORT)]
        table.add_row(
            service,
            _ROLE_NAMES.get(members[0].role, members[0].role or "?"),
            str(len(members)),
            ", ".join(states),
            members[0].config.image,
            "\n".join(urls) or "-",
        )
    return table

"""Where the agents are: URLs given on the command line, or the agents of a running stack.

A stack's agents are reached at their containers' own addresses when this host can reach those (Linux with
a local engine), else at their published ports. A published port is served by a docker-proxy process that
copies every byte between two sockets: about 0.2 ms of CPU per rollout, 4 % of all of gymbox's
(`benchmarks/bench_vs_nemogym.py`).
"""

from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from gymbox.errors import GymboxError

if TYPE_CHECKING:
    from gymbox.docker.records import Container

DIRECT_AGENT = "agent"  # the agent name rows are sent to when only --url is given


def find_agents(stack: str, agent: str | None, urls: list[str]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """{agent instance: replica URLs}, and metadata (stack, image digests) to stamp on every rollout."""
    if urls:
        return {agent or DIRECT_AGENT: [u.rstrip("/") for u in urls]}, {}
    from gymbox.docker.stack import Stack  # Docker only when a stack is asked for

    containers = Stack(stack).containers()
    found = _where_agents_answer(containers)
    # Image tags are content hashes: they pin exactly which environment code scored each rollout.
    metadata = {"stack": stack, "images": {c.instance: c.config.image for c in containers}}
    if not found:
        raise GymboxError(
            f"no running stack {stack!r} with agents: start one with `gymbox up -c ... --name {stack}`, or pass --url"
        )
    if agent is None:
        return found, metadata
    if agent not in found:
        raise GymboxError(f"stack {stack!r} has no agent {agent!r} (agents: {', '.join(sorted(found))})")
    return {agent: found[agent]}, metadata


def stack_agents(stack: str) -> dict[str, list[str]]:
    """{agent instance: URLs of its running replicas} in `stack` now (blocking: it asks Docker).

    The collector calls it again when an agent stops answering: a restarted agent has a new address.
    """
    from gymbox.docker.stack import Stack

    return _where_agents_answer(Stack(stack).containers())


PROBE_TIMEOUT_S = 0.5
# `published`: always the published ports (a firewall between the host and its bridge networks, or a test
# of what a restart on a new port does); anything else: container addresses where they answer.
ADDRESSES_ENV = "GYMBOX_AGENT_ADDRESSES"


def _where_agents_answer(containers: list[Container]) -> dict[str, list[str]]:
    from gymbox.docker.stack import agent_addresses, agent_urls

    if os.environ.get(ADDRESSES_ENV) == "published":
        return agent_urls(containers)
    direct = agent_addresses(containers)
    first = next((urls[0] for urls in direct.values() if urls), None)
    if first is not None and accepts_connections(first):
        return direct
    return agent_urls(containers)


def accepts_connections(url: str, timeout_s: float = PROBE_TIMEOUT_S) -> bool:
    parts = urlsplit(url)
    try:
        with socket.create_connection((parts.hostname or "", parts.port or 80), timeout=timeout_s):
            return True
    except OSError:
        return False

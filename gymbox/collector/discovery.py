"""Where the agents are: URLs given on the command line, or the published ports of a running stack."""

from __future__ import annotations

from typing import Any

from gymbox.errors import GymboxError

DIRECT_AGENT = "agent"  # the agent name rows are sent to when only --url is given


def find_agents(stack: str, agent: str | None, urls: list[str]) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """{agent instance: replica URLs}, and metadata (stack, image digests) to stamp on every rollout."""
    if urls:
        return {agent or DIRECT_AGENT: [u.rstrip("/") for u in urls]}, {}
    from gymbox.docker.stack import Stack, agent_urls  # Docker only when a stack is asked for

    containers = Stack(stack).containers()
    found = agent_urls(containers)
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

    The collector calls it again when an agent stops answering: a restarted agent has a new published port.
    """
    from gymbox.docker.stack import Stack, agent_urls

    return agent_urls(Stack(stack).containers())

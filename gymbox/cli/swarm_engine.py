"""What `up`, `down`, `ps`, `logs` and `rollout` do with `--engine swarm` (gymbox.docker.swarm does the work).

The compose path stays in each command's own module; this one holds the Swarm path, so a command only
says `if engine == "swarm": return swarm_engine.<command>(...)`.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from gymbox.config import ResolvedConfig
    from gymbox.docker.images import BuildOptions

ENGINES = ("compose", "swarm")
DEFAULT_TIMEOUT_S = 600.0  # every node pulls the images before its first task starts


def check_engine(engine: str) -> str:
    if engine not in ENGINES:
        raise typer.BadParameter(f"{engine!r}: choose {' or '.join(ENGINES)}", param_hint="--engine")
    return engine


def need_name(name: str | None, command: str) -> str:
    """A Swarm stack has no folder here to pick it by: it is always named."""
    if not name:
        raise typer.BadParameter(f"a Swarm stack is named: `gymbox {command} --engine swarm --name NAME`")
    return name


def up(
    config: ResolvedConfig,
    name: str,
    options: BuildOptions,
    *,
    host: str | None,
    registry: str | None,
    timeout: float | None,
    json_output: bool,
) -> None:
    """Build, push, render, `docker stack deploy`, wait until every service runs its replicas."""
    from gymbox.cli.common import print_json
    from gymbox.docker.images import build_stack_images
    from gymbox.docker.registry import push_images
    from gymbox.docker.render import render
    from gymbox.docker.swarm import deploy_swarm

    started = time.monotonic()
    options.log = lambda message: typer.echo(message, err=True)
    images = build_stack_images(config, options)
    if registry:
        images = push_images(images, registry, log=options.log)
    else:
        typer.echo(
            "no --registry: every node must already hold the images (a one-node Swarm on this engine does)",
            err=True,
        )
    files = render(config, name, images)

    def progress(state: dict[str, str]) -> None:
        summary = ", ".join(f"{service} {replicas}" for service, replicas in sorted(state.items()))
        typer.echo(f"[{time.monotonic() - started:5.0f} s] {summary}", err=True)

    urls = deploy_swarm(files, host=host, timeout=timeout or DEFAULT_TIMEOUT_S, on_progress=progress)
    elapsed = time.monotonic() - started
    if json_output:
        print_json({"name": name, "engine": "swarm", "ready_after_s": round(elapsed, 1), "agents": urls})
        return
    for agent, agent_urls in urls.items():
        typer.echo(f"{agent}: {' '.join(agent_urls)}")
    typer.echo(
        f"swarm stack {name} running in {elapsed:.1f} s; `gymbox down --engine swarm --name {name}` removes it",
        err=True,
    )


def down(name: str, *, host: str | None, json_output: bool) -> None:
    from gymbox.cli.common import print_json
    from gymbox.docker.swarm import remove_swarm

    remove_swarm(name, host)
    if json_output:
        print_json({"removed": [name], "engine": "swarm"})
    typer.echo(f"swarm stack {name} removed", err=True)


def ps(name: str, *, host: str | None, json_output: bool) -> None:
    from gymbox.cli.common import print_json
    from gymbox.docker.swarm import agent_urls_swarm, services_state

    state, urls = services_state(name, host), agent_urls_swarm(name, host)
    if json_output:
        print_json(
            {"name": name, "engine": "swarm", "services": [{"service": s, "replicas": r} for s, r in state.items()],
             "agents": urls}
        )  # fmt: skip
        return
    if not state:
        typer.echo(f"no swarm stack {name!r}", err=True)
    for service, replicas in sorted(state.items()):
        typer.echo(f"{service:<40} {replicas:>7}  {' '.join(urls.get(service, []))}".rstrip())


def logs(name: str, instance: str | None, *, host: str | None, follow: bool, tail: str) -> None:
    from gymbox.docker.swarm import service_logs, services_state

    instances = [instance] if instance else sorted(services_state(name, host))
    for each in instances:
        service_logs(name, each, host=host, follow=follow and len(instances) == 1, tail=tail)


def find_agents(name: str, agent: str | None, host: str | None) -> tuple[dict[str, list[str]], dict[str, Any]]:
    """The stack's agent URLs (every task, on its node) and the metadata stamped on rollouts."""
    from gymbox.docker.swarm import agent_urls_swarm
    from gymbox.errors import GymboxError

    found = {a: urls for a, urls in agent_urls_swarm(name, host).items() if urls}
    if not found:
        raise GymboxError(f"no running swarm stack {name!r} with agents (manager: {host or 'this engine'})")
    metadata = {"stack": name, "engine": "swarm"}
    if agent is None:
        return found, metadata
    if agent not in found:
        raise GymboxError(f"swarm stack {name!r} has no agent {agent!r} (agents: {', '.join(sorted(found))})")
    return {agent: found[agent]}, metadata

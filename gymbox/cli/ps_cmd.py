"""`gymbox ps`: the containers of a stack, their health and the URLs where its agents listen."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import Engine, JsonOutput, StackName, SwarmHost


def ps(
    name: StackName = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every gymbox stack on this engine, wherever it was made.")
    ] = False,
    json_output: JsonOutput = False,
    engine: Engine = "compose",
    swarm_host: SwarmHost = None,
) -> None:
    """Show a stack: --name, else every stack made from this directory (compose/<name>/ here)."""
    from rich.console import Console

    from gymbox.cli import swarm_engine
    from gymbox.cli.common import print_json
    from gymbox.cli.stack_choice import stacks_made_here
    from gymbox.docker.stack import Stack, all_stack_names
    from gymbox.docker.status_table import service_rows, stack_table

    if swarm_engine.check_engine(engine) == "swarm":
        swarm_engine.ps(swarm_engine.need_name(name, "ps"), host=swarm_host, json_output=json_output)
        return
    names = [name] if name else all_stack_names() if all_ else stacks_made_here()
    stacks = {stack_name: Stack(stack_name).containers() for stack_name in names}
    if json_output:
        print_json([{"name": n, "services": service_rows(containers)} for n, containers in stacks.items()])
        return
    console = Console(width=max(Console().width, 160))  # URLs must not wrap when piped
    if not names:
        what = "on this engine" if all_ else "made from this directory; `gymbox ps --all` lists the others"
        console.print(f"no gymbox stack {what}", style="dim")
    for stack_name, containers in stacks.items():
        if not containers:
            console.print(f"stack {stack_name}: no containers", style="dim")
            continue
        console.print(stack_table(stack_name, containers))

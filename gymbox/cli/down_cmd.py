"""`gymbox down`: remove every container, network and volume labelled with a stack."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import Engine, JsonOutput, StackName, SwarmHost


def down(
    name: StackName = None,
    all_: Annotated[
        bool, typer.Option("--all", help="Every stack made from this directory (see --name); not other users'.")
    ] = False,
    keep_cache: Annotated[
        bool, typer.Option("--keep-cache", help="Keep model-cache volumes (vLLM weights) for the next `up`.")
    ] = False,
    json_output: JsonOutput = False,
    engine: Engine = "compose",
    swarm_host: SwarmHost = None,
) -> None:
    """Stop and remove a stack: its containers, then its network, then its volumes (found by label).

    Without --name it removes only a stack made from this directory, and refuses to guess among several.
    """
    from gymbox.cli import swarm_engine
    from gymbox.cli.common import print_json
    from gymbox.cli.stack_choice import choose_stack, stacks_made_here
    from gymbox.docker.stack import Stack

    if swarm_engine.check_engine(engine) == "swarm":
        swarm_engine.down(swarm_engine.need_name(name, "down"), host=swarm_host, json_output=json_output)
        return

    if all_ and name:
        raise typer.BadParameter("give --name or --all, not both", param_hint="--all")
    names = stacks_made_here() if all_ else [choose_stack(name, "down")]
    removed = {}
    for stack_name in names:
        counts = Stack(stack_name).down(keep_cache=keep_cache)
        removed[stack_name] = counts
        typer.echo(
            f"stack {stack_name}: removed {counts['containers']} container(s), "
            f"{counts['networks']} network(s), {counts['volumes']} volume(s)",
            err=True,
        )
    if all_ and not names:
        typer.echo("no stack made from this directory exists", err=True)
    if json_output:
        print_json({"removed": removed})

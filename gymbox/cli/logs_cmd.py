"""`gymbox logs`: the logs of a stack's containers (one instance, or all), optionally followed."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import Engine, StackName, SwarmHost


def logs(
    instance: Annotated[
        str | None, typer.Argument(metavar="[INSTANCE]", help="Instance (compose service) [default: all].")
    ] = None,
    name: StackName = None,
    follow: Annotated[bool, typer.Option("--follow", "-f", help="Keep printing new lines.")] = False,
    tail: Annotated[str, typer.Option("--tail", metavar="N|all", help="Lines from the end of each log.")] = "all",
    engine: Engine = "compose",
    swarm_host: SwarmHost = None,
) -> None:
    """Print logs through compose, so lines are prefixed with their service and replica."""
    from gymbox.cli import swarm_engine
    from gymbox.cli.stack_choice import choose_stack
    from gymbox.docker import client
    from gymbox.docker.stack import Stack
    from gymbox.errors import StackError

    if swarm_engine.check_engine(engine) == "swarm":
        swarm_engine.logs(swarm_engine.need_name(name, "logs"), instance, host=swarm_host, follow=follow, tail=tail)
        return
    stack = Stack(choose_stack(name, "logs"))
    if not stack.compose_file.is_file():
        raise StackError(
            f"{stack.compose_file} not found; was stack {stack.name!r} started from another "
            "folder? Use `docker logs <container>` (see `gymbox ps`)"
        )
    args = ["logs", "--no-color", "--tail", tail]
    if follow:
        args.append("--follow")
    if instance:
        args.append(instance)
    argv = client.compose_argv(stack.project, [str(stack.compose_file)], *args)
    try:
        client.run(argv, capture=False)
    except KeyboardInterrupt:  # Ctrl-C ends --follow; not an error
        raise typer.Exit(0) from None

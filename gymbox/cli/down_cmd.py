"""`gymbox down`: remove every container, network and volume labelled with a stack."""

from __future__ import annotations

from typing import Annotated

import typer

StackOption = Annotated[
    str | None,
    typer.Option("--name", "-n", help="Stack name [default: the only stack there is]."),
]


def pick_stack(name: str | None, *, leftovers: bool = False) -> str:
    """`name`, or the only stack with containers (or, with `leftovers`, with anything at all)."""
    from gymbox.docker.stack import all_stack_names, running_stacks
    from gymbox.errors import StackError

    if name:
        return name
    stacks = all_stack_names() if leftovers else running_stacks()
    if len(stacks) == 1:
        return stacks[0]
    if not stacks:
        raise StackError("no gymbox stack is running. Hint: start one with `gymbox up -c CONFIG`")
    raise StackError(f"{len(stacks)} gymbox stacks exist ({', '.join(stacks)}); pick one with --name")


def down(
    name: StackOption = None,
    all_: Annotated[bool, typer.Option("--all", help="Every gymbox stack on this engine.")] = False,
    keep_cache: Annotated[
        bool, typer.Option("--keep-cache", help="Keep model-cache volumes (vLLM weights) for the next `up`.")
    ] = False,
) -> None:
    """Stop and remove a stack: its containers, then its network, then its volumes (found by label)."""
    from gymbox.docker.stack import Stack, all_stack_names

    names = all_stack_names() if all_ else [pick_stack(name, leftovers=True)]
    for stack_name in names:
        counts = Stack(stack_name).down(keep_cache=keep_cache)
        typer.echo(
            f"stack {stack_name}: removed {counts['containers']} container(s), "
            f"{counts['networks']} network(s), {counts['volumes']} volume(s)",
            err=True,
        )

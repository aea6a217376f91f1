"""`gymbox ps`: the containers of a stack, their health and the URLs where its agents listen."""

from __future__ import annotations

from gymbox.cli.down_cmd import StackOption


def ps(name: StackOption = None) -> None:
    """Show one stack (or, without --name and with several running, all of them)."""
    from rich.console import Console

    from gymbox.docker.stack import Stack, running_stacks
    from gymbox.docker.status_table import stack_table

    names = [name] if name else running_stacks()
    console = Console(width=max(Console().width, 160))  # URLs must not wrap when piped
    if not names:
        console.print("no gymbox stack is running", style="dim")
    for stack_name in names:
        containers = Stack(stack_name).containers()
        if not containers:
            console.print(f"stack {stack_name}: no containers", style="dim")
            continue
        console.print(stack_table(stack_name, containers))

"""`gymbox up`: build what is missing, render, start, wait until healthy, print where agents listen."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.build_cmd import BaseImage, CaBundle, Verbose
from gymbox.cli.common import ConfigFiles, EnvFile, ModelName, SetOverrides, load_stack
from gymbox.cli.render_cmd import StackName


def up(
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    name: StackName = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            help="Seconds to wait for every healthcheck [default: 120; 1800 with a vLLM container, "
            "which may download and load a model].",
            show_default=False,
        ),
    ] = None,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    verbose: Verbose = False,
) -> None:
    """Start the stack and wait for every container's healthcheck.

    If anything fails, or on Ctrl-C / SIGTERM, the stack is torn down and nothing is left running.
    """
    import time

    from rich.console import Console

    from gymbox.cli.build_cmd import build_options
    from gymbox.docker.deploy import deploy, signals_interrupt
    from gymbox.docker.render import default_stack_name
    from gymbox.docker.status_table import stack_table

    stack = load_stack(config, set_, model, env_file)
    stack_name = name or default_stack_name(config, model)
    options = build_options(ca_bundle, base, stack=stack, verbose=verbose)
    console = Console(stderr=True)
    start = time.monotonic()
    try:
        with signals_interrupt(), deploy(stack, stack_name, options=options, timeout=timeout) as running:
            Console(width=max(Console().width, 160)).print(stack_table(stack_name, running.containers, verified=True))
            console.print(
                f"stack {stack_name} healthy in {time.monotonic() - start:.1f} s; "
                f"`gymbox down --name {stack_name}` removes it"
            )
    except KeyboardInterrupt:
        console.print(f"interrupted: stack {stack_name} was torn down")
        # SystemExit, not typer.Exit: the exit code must survive standalone_mode=False.
        raise SystemExit(130) from None

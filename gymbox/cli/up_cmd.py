"""`gymbox up`: build what is missing, render, start, wait until healthy, print where agents listen."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import (
    BaseImage,
    CaBundle,
    ConfigFiles,
    Engine,
    EnvFile,
    JsonOutput,
    ModelName,
    NewStackName,
    Registry,
    SetOverrides,
    SwarmHost,
    TrailingOverrides,
    Verbose,
)


def up(
    config: ConfigFiles = None,
    set_: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    name: NewStackName = None,
    timeout: Annotated[
        float | None,
        typer.Option(
            "--timeout",
            metavar="SECONDS",
            help="Seconds to wait for every healthcheck [default: 120; 1800 with a vLLM container, "
            "which may download and load a model].",
            show_default=False,
        ),
    ] = None,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    verbose: Verbose = False,
    json_output: JsonOutput = False,
    overrides: TrailingOverrides = None,
    engine: Engine = "compose",
    swarm_host: SwarmHost = None,
    registry: Registry = None,
) -> None:
    """Start the stack and wait for every container's healthcheck, showing each service's state as it
    changes (on stderr); then print where the agents listen.

    If anything fails, or on Ctrl-C / SIGTERM, the stack is torn down and nothing is left running.
    """
    import time
    from contextlib import ExitStack

    from rich.console import Console

    from gymbox.cli import swarm_engine
    from gymbox.cli.common import build_options, load_stack, print_json
    from gymbox.cli.up_progress import UpProgress
    from gymbox.docker.deploy import deploy, signals_interrupt
    from gymbox.docker.render import default_stack_name
    from gymbox.docker.status_table import service_rows, stack_table
    from gymbox.docker.wait import progress_to

    stack = load_stack(config, [*(set_ or []), *(overrides or [])], model, env_file)
    stack_name = name or default_stack_name(config, model)
    options = build_options(ca_bundle, base, stack=stack, verbose=verbose)
    if swarm_engine.check_engine(engine) == "swarm":
        swarm_engine.up(
            stack, stack_name, options, host=swarm_host, registry=registry, timeout=timeout, json_output=json_output
        )
        return
    console = Console(stderr=True, soft_wrap=True)  # a line in a log stays one line
    # --verbose streams docker's build output to the terminal, which a live panel would garble.
    progress = UpProgress(stack_name, console, live=False if verbose else None)
    options.log = progress.log
    start = time.monotonic()
    try:
        with signals_interrupt(), ExitStack() as on_exit:
            with progress, progress_to(progress.services):
                running = on_exit.enter_context(deploy(stack, stack_name, options=options, timeout=timeout))
            elapsed = time.monotonic() - start
            if json_output:
                print_json(
                    {
                        "name": stack_name,
                        "healthy_after_s": round(elapsed, 1),
                        "compose_dir": str(running.rendered.directory),
                        "agents": running.agent_urls,
                        "services": service_rows(running.containers, verified=True),
                    }
                )
            else:
                Console(width=max(Console().width, 160)).print(
                    stack_table(stack_name, running.containers, verified=True)
                )
            console.print(
                f"stack {stack_name} healthy in {elapsed:.1f} s; `gymbox down --name {stack_name}` removes it"
            )
    except KeyboardInterrupt:
        console.print(f"interrupted: stack {stack_name} was torn down")
        # SystemExit, not typer.Exit: the exit code must survive standalone_mode=False.
        raise SystemExit(130) from None

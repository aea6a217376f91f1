"""The `gymbox` command line: one module per command, heavy imports inside each command.

Shared options live in `gymbox.cli.options`; exit codes and error printing in `gymbox.cli.common`.
"""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli import (
    build_cmd,
    build_env_cmd,
    config_cmd,
    data_cmd,
    down_cmd,
    images_cmd,
    logs_cmd,
    metrics_cmd,
    profile_cmd,
    ps_cmd,
    push_cmd,
    render_cmd,
    reverify_cmd,
    rollout_cmd,
    serve_cmd,
    test_env_cmd,
    up_cmd,
    view_cmd,
)

app = typer.Typer(
    name="gymbox",
    help="Docker-first RL environments for LLMs: serve, stack up, and collect verified rollouts.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,  # help texts are plain: "[default: x]" must not vanish as markup
)


def _print_version(value: bool) -> None:
    if value:
        from importlib.metadata import version

        typer.echo(f"gymbox {version('gymbox')}")
        raise typer.Exit()


@app.callback()
def _main(
    version: Annotated[
        bool | None,
        typer.Option("--version", callback=_print_version, is_eager=True, help="Print gymbox's version and exit."),
    ] = None,
) -> None:
    """Docker-first RL environments for LLMs: serve, stack up, and collect verified rollouts."""


app.command("config")(config_cmd.config)
app.command("serve")(serve_cmd.serve)
app.command("rollout")(rollout_cmd.rollout)
app.command("metrics")(metrics_cmd.metrics)
app.command("reverify")(reverify_cmd.reverify)
app.command("profile")(profile_cmd.profile)
app.command("view")(view_cmd.view)
app.add_typer(data_cmd.app, name="data")
# Docker: images, stacks.
app.add_typer(images_cmd.app, name="images")
app.command("build")(build_cmd.build)
app.command("push")(push_cmd.push)
app.command("render")(render_cmd.render)
app.command("up")(up_cmd.up)
app.command("down")(down_cmd.down)
app.command("ps")(ps_cmd.ps)
app.command("logs")(logs_cmd.logs)
app.command("test-env")(test_env_cmd.run_test_env)
app.command("build-env")(build_env_cmd.build_env)


def main() -> None:
    from gymbox.cli.common import run_app

    run_app(app)

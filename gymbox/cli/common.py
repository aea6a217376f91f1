"""Options every config-reading command shares, and turning gymbox errors into clean exits."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

if TYPE_CHECKING:
    from gymbox.config import ResolvedConfig

ConfigFiles = Annotated[
    list[Path] | None,
    typer.Option("--config", "-c", help="Config YAML file; repeatable, merged left to right."),
]
SetOverrides = Annotated[
    list[str] | None,
    typer.Option("--set", help="Override one value: key.path=value (repeatable, applied last)."),
]
ModelName = Annotated[
    str | None,
    typer.Option("--model", "-m", help="Add the built-in policy_model: scripted, openai or vllm."),
]
EnvFile = Annotated[
    Path | None,
    typer.Option("--env-file", help="Local values and secrets, merged after the configs (default: ./env.yaml)."),
]


def load_stack(
    config: list[Path] | None, sets: list[str] | None, model: str | None, env_file: Path | None = None
) -> ResolvedConfig:
    from gymbox.config import load_config

    return load_config(config or [], sets=sets or [], model=model, env_file=env_file)


def run_app(app: typer.Typer) -> None:
    """Run the CLI; a GymboxError prints its message (no traceback) and exits 1."""
    from gymbox.errors import GymboxError

    try:
        # standalone_mode=False returns typer.Exit's code instead of exiting with it.
        code = app(standalone_mode=False)
        if isinstance(code, int) and code:
            raise SystemExit(code)
    except GymboxError as exc:
        sys.stderr.write(f"error: {exc}\n")
        raise SystemExit(1) from None
    except typer.Exit as exc:
        raise SystemExit(exc.exit_code) from None
    except typer.Abort:
        sys.stderr.write("aborted\n")
        raise SystemExit(130) from None
    except Exception as exc:  # click usage errors
        import click

        if isinstance(exc, click.ClickException):
            exc.show()
            raise SystemExit(exc.exit_code) from None
        raise

"""What every command shares at run time: loading the config, build options, JSON output, and clean exits.

Exit codes: 0 success; 1 a gymbox error (its message, no traceback); 2 a usage error (one line, with a
"did you mean" when a name is close); 130 interrupted. `gymbox rollout` adds 3 for too many failures.
"""

from __future__ import annotations

import difflib
import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

if TYPE_CHECKING:
    from gymbox.config import ResolvedConfig
    from gymbox.docker.images import BuildOptions

USAGE_EXIT = 2


def load_stack(
    config: list[Path] | None,
    sets: list[str] | None,
    model: str | None,
    env_file: Path | None = None,
    *,
    serving: str | None = None,
) -> ResolvedConfig:
    from gymbox.config import load_config

    return load_config(config or [], sets=sets or [], model=model, env_file=env_file, serving=serving)


def build_options(
    ca_bundle: str | None,
    base: str | None,
    *,
    stack: ResolvedConfig | None = None,
    no_cache: bool = False,
    verbose: bool = False,
) -> BuildOptions:
    from gymbox.docker.images import BuildOptions, resolve_ca_bundle

    return BuildOptions(
        base=base,
        ca_bundle=resolve_ca_bundle(ca_bundle, stack),
        no_cache=no_cache,
        quiet=not verbose,
        log=lambda msg: typer.echo(msg, err=True),
    )


def print_json(value: Any) -> None:
    """One JSON document on stdout: what `--json` prints (everything else goes to stderr)."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False, default=str) + "\n")


def run_app(app: typer.Typer) -> None:
    """Run the CLI; a GymboxError prints its message (no traceback) and exits 1, a usage error one line, 2."""
    from gymbox.errors import GymboxError

    try:
        import typer.main

        command = typer.main.get_command(app)
        readable_metavars(command)
        # standalone_mode=False returns typer.Exit's code instead of exiting with it.
        code = command.main(prog_name="gymbox", standalone_mode=False)
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
    except Exception as exc:
        # Parsing errors are click exceptions: typer's vendored click (TyperException) or, with an older
        # typer, click itself. Both carry `exit_code` and `format_message()`.
        exit_code = getattr(exc, "exit_code", None)
        if not (hasattr(exc, "format_message") and isinstance(exit_code, int)):
            raise
        if type(exc).__name__ == "NoArgsIsHelpError":  # a bare `gymbox` or `gymbox data`: the help
            sys.stdout.write(exc.format_message() + "\n")
            raise SystemExit(USAGE_EXIT) from None
        sys.stderr.write(usage_error_line(exc) + "\n")
        raise SystemExit(exit_code) from None


def usage_error_line(exc: Any) -> str:
    """`error: gymbox rollout: No such option: --repeat (did you mean --repeats?). See `gymbox rollout --help`.`"""
    ctx = getattr(exc, "ctx", None)
    option = getattr(exc, "option_name", None)
    # NoSuchOption's format_message appends click's own "(Possible options: ...)"; we say it our way.
    raw = exc.message if option and hasattr(exc, "message") else exc.format_message()
    message = " ".join(str(raw).split())
    if ctx is None:
        return f"error: {message}"
    suggestions: list[str] = []
    if option:
        names = [name for param in ctx.command.params for name in (*param.opts, *param.secondary_opts)]
        suggestions = list(getattr(exc, "possibilities", None) or []) or _close(option, names)
    elif message.startswith("No such command") and "did you mean" not in message.lower():
        typed = message.split("'")[1] if message.count("'") >= 2 else ""
        suggestions = _close(typed, ctx.command.list_commands(ctx))
    if suggestions:
        message = message.rstrip(".") + f" (did you mean {' or '.join(sorted(suggestions))}?)."
    if not message.endswith((".", "?")):
        message += "."
    return f"error: {ctx.command_path}: {message} See `{ctx.command_path} --help`."


def _close(typed: str, names: list[str]) -> list[str]:
    """Names within a typo or two of `typed`, dashes aside."""
    bare = {name.lstrip("-"): name for name in names}
    return [bare[m] for m in difflib.get_close_matches(typed.lstrip("-"), list(bare), n=3, cutoff=0.5)]


def readable_metavars(command: Any) -> None:
    """Give every option of `command` and its subcommands that names no metavar one that says what to
    type (`--seed N`, `--stack STACK`, `--output DIR`), instead of typer's Python types (`<int>`,
    `<list[str]>`). Commands that set their own metavar keep it."""
    for param in command.params:
        if param.param_type_name == "option" and not param.is_flag and param.metavar is None:
            label = param.display_type(None).strip("<>")
            label = label.removeprefix("list[").removesuffix("]")
            longest = max(param.opts, key=len).lstrip("-").replace("-", "_").upper()
            if label in ("int", "int range"):
                param.metavar = "N"
            elif label in ("float", "float range"):
                param.metavar = "NUMBER"
            elif label in ("str", "text"):
                param.metavar = longest
            elif label in ("path", "file", "dir"):
                param.metavar = label.upper()
            else:  # choices: sft|dpo
                param.metavar = label
    for sub in getattr(command, "commands", {}).values():
        readable_metavars(sub)

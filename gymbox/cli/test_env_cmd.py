"""`gymbox test-env`: run an environment's tests/ inside its own image, with pytest."""

from __future__ import annotations

from typing import Annotated

import typer

from gymbox.cli.options import BaseImage, CaBundle, Verbose


def run_test_env(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="Environment folder name, e.g. example_single_tool_call.")
    ],
    pytest_args: Annotated[
        list[str] | None, typer.Argument(metavar="[-- PYTEST_ARGS...]", help="Extra pytest arguments (after --).")
    ] = None,
    ca_bundle: CaBundle = None,
    base: BaseImage = None,
    verbose: Verbose = False,
) -> None:
    """Build the environment's `test` image (its image plus pytest, cached) and run its tests in it.

    Exits with pytest's exit code.
    """
    from gymbox.cli.common import build_options
    from gymbox.docker.testenv import run_env_tests

    code = run_env_tests(name, build_options(ca_bundle, base, verbose=verbose), list(pytest_args or []))
    raise SystemExit(code)  # not typer.Exit, whose code standalone_mode=False would swallow

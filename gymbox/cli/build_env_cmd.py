"""`gymbox build-env`: scaffold a new environment folder from gymbox's templates."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def build_env(
    name: Annotated[
        str, typer.Argument(metavar="NAME", help="The environment's name, lower-case snake_case, e.g. trivia_search.")
    ],
    tool: Annotated[
        list[str] | None,
        typer.Option(
            "--tool",
            "-t",
            metavar="TOOL",
            help="A tool to scaffold (repeatable) [default: lookup].",
            show_default=False,
        ),
    ] = None,
    directory: Annotated[
        Path | None,
        typer.Option(
            "--dir",
            metavar="DIR",
            file_okay=False,
            show_default=False,
            help="Folder to create NAME/ in [default: $GYMBOX_ENVIRONMENTS_DIR, else ./environments].",
        ),
    ] = None,
) -> None:
    """Create DIR/NAME/ (app.py, Dockerfile, requirements.txt, configs/NAME.yaml, data/example.jsonl, tests/,
    README.md), which runs end to end as it is. Never overwrites an existing folder.

    The tools and the verifier (exact match on each row's expected_answer) are placeholders to replace.
    """
    from gymbox.registry import environments_dir
    from gymbox.scaffold import DEFAULT_TOOLS, display_path, scaffold_environment

    env = scaffold_environment(
        name, tool or list(DEFAULT_TOOLS), directory if directory is not None else environments_dir()
    )
    where = display_path(env.path)
    typer.echo(f"created {where}/ ({env.class_name}; tools: {', '.join(env.tools)}):")
    for path in env.files:
        typer.echo(f"  {path.as_posix()}")
    prefix = ""
    if env.path.parent.resolve() != environments_dir():
        prefix = f"GYMBOX_ENVIRONMENTS_DIR={display_path(env.path.parent)} "
        typer.echo(
            f"{display_path(env.path.parent)} is not where gymbox looks for environments "
            f"({display_path(environments_dir())}: $GYMBOX_ENVIRONMENTS_DIR, else ./environments); "
            "the commands that find it by name need the variable, as below."
        )
    config = f"{where}/configs/{env.name}.yaml"
    typer.echo("next steps:")
    for step in (
        f"pytest {where}",
        f"{prefix}gymbox test-env {env.name}",
        f"{prefix}gymbox up -c {config} -m scripted --name {env.name}",
        f"gymbox rollout --stack {env.name} --agent {env.name}_simple_agent -i {where}/data/example.jsonl "
        f"-o rollouts/{env.name}.jsonl",
        f"gymbox down --name {env.name}",
    ):
        typer.echo(f"  {step}")
    typer.echo(
        f"then replace the placeholder tools and verifier in {where}/app.py and the rows in "
        f"{where}/data/example.jsonl; {where}/README.md says how they fit together."
    )

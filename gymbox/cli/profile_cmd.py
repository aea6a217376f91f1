"""`gymbox profile`: which tasks of a run carry a training signal, in the terminal or as JSON."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer


def profile(
    rollouts: Annotated[
        Path, typer.Argument(help="Rollouts JSONL written by `gymbox rollout`.", exists=True, dir_okay=False)
    ],
    json_: Annotated[
        bool, typer.Option("--json", help="Print the summary and every task as one JSON document.")
    ] = False,
    drop_constant: Annotated[
        Path | None,
        typer.Option(
            metavar="OUT",
            help="Write the task rows whose reward varies across repeats to OUT (JSONL), dropping constant ones.",
        ),
    ] = None,
    pass_threshold: Annotated[float, typer.Option(help="Reward that counts as a pass for pass@k.")] = 1.0,
    show: Annotated[int, typer.Option(min=0, help="Tasks listed in the terminal table.")] = 20,
) -> None:
    """Per-task reward mean and variance; flags tasks whose reward never varies (all 0 or all 1)."""
    from gymbox.cli.common import print_json
    from gymbox.collector.profile_report import print_profile, profile_file, write_varying_tasks

    run = profile_file(rollouts, pass_threshold=pass_threshold)
    if drop_constant is not None:
        kept, dropped = write_varying_tasks(rollouts, run, drop_constant)
        typer.echo(f"{kept} task rows written to {drop_constant}; {dropped} constant tasks dropped", err=True)
    if json_:
        print_json({**run.summary(), "per_task": [task.as_dict() for task in run.tasks.values()]})
    else:
        print_profile(run, show=show)

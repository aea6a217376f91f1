"""`gymbox metrics`: recompute a rollouts file's metrics."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from gymbox.cli.options import JsonOutput


def metrics(
    rollouts: Annotated[
        Path,
        typer.Argument(
            metavar="ROLLOUTS", help="Rollouts JSONL written by `gymbox rollout`.", exists=True, dir_okay=False
        ),
    ],
    pass_threshold: Annotated[
        float, typer.Option(metavar="REWARD", help="Reward that counts as a pass for pass@k.")
    ] = 1.0,
    json_output: JsonOutput = False,
) -> None:
    """Print the metrics table and (re)write `<stem>_metrics.json`."""
    import json

    from gymbox.cli.common import print_json
    from gymbox.collector.metrics import compute_metrics, write_metrics
    from gymbox.collector.metrics_table import print_metrics

    result = compute_metrics(rollouts, pass_threshold=pass_threshold)
    path = write_metrics(rollouts, result)
    if json_output:  # the file just written: summary and per-task rows
        print_json(json.loads(path.read_text(encoding="utf-8")))
        return
    print_metrics(result)
    typer.echo(f"metrics written to {path}")

"""`gymbox data`: validate the agents' datasets, prepare training splits, export rollouts for trainers."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from gymbox.cli.options import ConfigFiles, EnvFile, ModelName, SetOverrides

if TYPE_CHECKING:
    from gymbox.config import ResolvedConfig

app = typer.Typer(
    help="Datasets: validate rows and statistics, prepare train/validation files, export rollouts.",
    no_args_is_help=True,
)


class ExportFormat(StrEnum):
    sft = "sft"
    dpo = "dpo"


@app.command("validate")
def validate(
    config: ConfigFiles = None,
    sets: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    types: Annotated[
        list[str] | None,
        typer.Option("--type", help="Only datasets of this type: example, train or validation (repeatable)."),
    ] = None,
) -> None:
    """Check every row of every agent's datasets; print statistics and write `<stem>_stats.json` beside each.

    Every invalid row is reported as file:line: field: problem. When statistics written before differ,
    the changed keys are printed (old -> new). Exits 1 if any row is invalid or a dataset file is missing.
    """
    from rich.console import Console

    from gymbox.data.datasets import locate_datasets
    from gymbox.data.stats import ABSENT
    from gymbox.data.summaries import print_dataset_stats
    from gymbox.data.validate import validate_datasets
    from gymbox.errors import DataError

    datasets, missing = locate_datasets(_load(config, sets, model, env_file), tuple(types) if types else None)
    if not datasets and not missing:
        raise DataError(
            "no datasets in the config: list them under an agent's `datasets:` "
            "([{name, type: example|train|validation, jsonl_fpath, license}])"
        )
    console = Console()
    problems = 0
    for report in validate_datasets(datasets):
        print_dataset_stats(report, console)
        for error in report.errors:
            typer.echo(error, err=True)
        problems += len(report.errors)
        if report.changes:
            typer.echo(f"statistics changed since {report.stats_file} was last written:")
            for key, old, new in report.changes:
                typer.echo(f"  {key}: {_show(old, ABSENT)} -> {_show(new, ABSENT)}")
        typer.echo(f"statistics written to {report.stats_file}")
    for error in missing:
        typer.echo(error, err=True)
    if problems or missing:
        raise DataError(f"{problems} problem(s) in the rows, {len(missing)} missing dataset file(s); see above")


@app.command("prepare")
def prepare(
    output: Annotated[
        Path, typer.Option("--output", "-o", help="Folder for train.jsonl and validation.jsonl.", file_okay=False)
    ],
    config: ConfigFiles = None,
    sets: SetOverrides = None,
    model: ModelName = None,
    env_file: EnvFile = None,
    seed: Annotated[int, typer.Option(help="Shuffle seed; the same seed and inputs give identical files.")] = 42,
    example: Annotated[
        bool,
        typer.Option(
            "--example",
            help="Collate the `example` datasets into example.jsonl instead (a quick end-to-end check).",
        ),
    ] = False,
) -> None:
    """Collate every agent's train / validation datasets into OUTPUT/<split>.jsonl, each row stamped with
    `agent_ref`, shuffled by seed. Any invalid row is an error and nothing is written."""
    from rich.console import Console

    from gymbox.data.datasets import find_datasets
    from gymbox.data.prepare import SPLITS
    from gymbox.data.prepare import prepare as collate
    from gymbox.data.summaries import print_prepare

    splits = ("example",) if example else SPLITS
    result = collate(find_datasets(_load(config, sets, model, env_file), splits), output, seed=seed, splits=splits)
    print_prepare(result, splits, Console())
    for split, path in result.written.items():
        typer.echo(f"{split}: {sum(n for (_, s), n in result.counts.items() if s == split)} rows -> {path}")
    for split in result.empty_splits:
        typer.echo(f"{split}: no {split} datasets in the config; {split}.jsonl not written", err=True)


@app.command("export")
def export(
    rollouts: Annotated[
        Path, typer.Argument(help="Rollouts JSONL written by `gymbox rollout`.", exists=True, dir_okay=False)
    ],
    fmt: Annotated[
        ExportFormat,
        typer.Option(
            "--format", "-f", help="sft: best rollout per task as chat messages; dpo: best vs worst rollout per task."
        ),
    ],
    output: Annotated[Path, typer.Option("--output", "-o", help="Training rows, JSONL.", dir_okay=False)],
    min_reward: Annotated[
        float | None,
        typer.Option(help="Least reward of the rollout kept (sft) or chosen (dpo); default 1.0 for sft, none for dpo."),
    ] = None,
    include_model_errors: Annotated[
        bool,
        typer.Option(
            "--include-model-errors",
            help="Also use rollouts with status model_error (real episodes, e.g. a bad "
            "tool call); by default only status ok.",
        ),
    ] = False,
) -> None:
    """Turn rollouts into SFT rows ({messages, tools}) or DPO pairs ({prompt, chosen, rejected, ...})."""
    from rich.console import Console

    from gymbox.data.export import export as write_rows
    from gymbox.data.summaries import print_export

    result = write_rows(rollouts, output, fmt.value, min_reward=min_reward, include_model_errors=include_model_errors)
    print_export(result, Console())
    typer.echo(f"{result.rows} {fmt.value} rows from {result.tasks} tasks written to {output}")


def _load(
    config: list[Path] | None, sets: list[str] | None, model: str | None, env_file: Path | None
) -> ResolvedConfig:
    """The stack config. Data commands never call the model, yet every `{type, name}` reference must
    resolve, and the example configs leave `policy_model` to `--model`: without one, any built-in will do."""
    from gymbox.cli.common import load_stack
    from gymbox.errors import ConfigError

    try:
        return load_stack(config, sets, model, env_file)
    except ConfigError as first:
        if model is not None:
            raise
        try:
            return load_stack(config, sets, "scripted", env_file)
        except ConfigError:
            raise first from None


def _show(value: Any, absent: str) -> str:
    return absent if value == absent else json.dumps(value, ensure_ascii=False)

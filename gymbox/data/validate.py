"""`gymbox data validate`: check every row of every dataset, gather statistics, record them beside the data.

Every invalid row is reported (file:line and the field), not just the first, so one run shows all that
needs fixing. Rows are checked by the same code the collector uses (`collector.rows`), so a dataset that
passes here is one `gymbox rollout` accepts.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymbox.collector.rows import RejectedRow, read_rows
from gymbox.data.datasets import Dataset
from gymbox.data.stats import RowStats, diff_stats, read_stats, stats_path, write_stats


@dataclass
class DatasetReport:
    datasets: list[Dataset]  # every config entry that names this file
    path: Path
    errors: list[str]
    stats: dict[str, Any]
    stats_file: Path
    changes: list[tuple[str, Any, Any]] = field(default_factory=list)  # against the stats file found there
    had_stats: bool = False

    @property
    def label(self) -> str:
        return ", ".join(ds.label for ds in self.datasets)


def validate_datasets(datasets: list[Dataset]) -> Iterator[DatasetReport]:
    """One report per distinct file (two agents may share one), in config order, each as soon as it is done."""
    by_file: dict[Path, list[Dataset]] = {}
    for dataset in datasets:
        by_file.setdefault(dataset.path.resolve(), []).append(dataset)
    for group in by_file.values():
        yield validate_file(group)


def validate_file(datasets: list[Dataset]) -> DatasetReport:
    """Check one file, then write its `<stem>_stats.json`, comparing with the one already there."""
    path = datasets[0].path
    stats = RowStats()
    errors: list[str] = []
    try:
        for item in read_rows(path):
            if isinstance(item, RejectedRow):
                stats.invalid += 1
                errors.append(f"{path}:{item.line}: {item.reason}")
            else:
                stats.add(item.row)
    except UnicodeDecodeError as exc:
        errors.append(
            f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start} of a line); re-encode the file as UTF-8"
        )
    if stats.rows == 0 and not errors:
        errors.append(f"{path}: no task rows (the file is empty)")
    new = stats.to_dict()
    target = stats_path(path)
    old = read_stats(target)
    write_stats(target, new)
    return DatasetReport(
        datasets,
        path,
        errors,
        new,
        target,
        changes=diff_stats(old, new) if old is not None else [],
        had_stats=old is not None,
    )

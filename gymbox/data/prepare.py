"""`gymbox data prepare`: collate the agents' datasets into one shuffled file per split.

Each row is stamped with `agent_ref: {type: responses_api_agents, name: <agent>}`, so one file can mix
environments and `gymbox rollout` (or NeMo Gym / NeMo RL) routes every row to its agent.

Reproducible on purpose: rows are gathered in config order, serialized once (key order as in the source
file, `agent_ref` last when the row had none), then shuffled with `random.Random(seed)`; each split uses its
own generator, so adding validation data does not reorder the train file. The same inputs and seed give
byte-identical files. The shuffle needs every row of a split in memory (as serialized lines).
"""

from __future__ import annotations

import json
import os
import random
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from gymbox.collector.rows import RejectedRow, read_rows
from gymbox.data.datasets import Dataset
from gymbox.errors import DataError
from gymbox.roles import Role

DEFAULT_SEED = 42
SPLITS = ("train", "validation")


@dataclass
class PrepareResult:
    written: dict[str, Path] = field(default_factory=dict)  # split -> file
    counts: Counter[tuple[str, str]] = field(default_factory=Counter)  # (agent, split) -> rows
    empty_splits: list[str] = field(default_factory=list)  # splits no dataset fed: no file written


def prepare(
    datasets: list[Dataset], output_dir: Path, *, seed: int = DEFAULT_SEED, splits: tuple[str, ...] = SPLITS
) -> PrepareResult:
    """Write `<output_dir>/<split>.jsonl` for each split that has rows; nothing at all if any row is invalid."""
    lines: dict[str, list[str]] = {split: [] for split in splits}
    result = PrepareResult()
    errors: list[str] = []
    for dataset in datasets:
        if dataset.type not in lines:
            continue
        ref = {"type": Role.RESPONSES_API_AGENTS.value, "name": dataset.agent}
        for item in read_rows(dataset.path):
            if isinstance(item, RejectedRow):
                errors.append(f"{dataset.path}:{item.line}: {item.reason}")
                continue
            lines[dataset.type].append(json.dumps({**item.row, "agent_ref": ref}, ensure_ascii=False))
            result.counts[(dataset.agent, dataset.type)] += 1
    if errors:
        raise DataError(
            f"{len(errors)} invalid row(s); nothing was written "
            "(run `gymbox data validate` for statistics):\n" + "\n".join(errors)
        )
    if not any(lines.values()):
        raise DataError(
            f"no rows to prepare: no dataset of type {' or '.join(splits)} in the config's agents "
            "(add one to an agent's `datasets`, or pass --example to collate the example datasets)"
        )
    output_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Path]] = []
    try:
        for split, rows in lines.items():
            if not rows:
                result.empty_splits.append(split)
                continue
            random.Random(seed).shuffle(rows)
            target = output_dir / f"{split}.jsonl"
            temp = target.with_name(f".{target.name}.tmp")
            temp.write_text("".join(f"{row}\n" for row in rows), encoding="utf-8")
            staged.append((temp, target))
        # Renamed only once every split is on disk, so a failure never leaves one split new and one old.
        for temp, target in staged:
            os.replace(temp, target)
            result.written[target.stem] = target
    finally:
        for temp, _ in staged:
            temp.unlink(missing_ok=True)
    return result

"""Statistics of a task-row file, kept next to it as `<stem>_stats.json`.

Not `<stem>_metrics.json`: NeMo Gym keeps its own statistics, in another format, under that name beside
its data (`data/example_metrics.json`), and a NeMo Gym folder validated here must keep it.

Gathered one row at a time: memory holds a hash per distinct prompt, never the rows. The file is meant to
be committed with the data, so that a change in the data shows up as a readable diff of its statistics.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gymbox.collector.rows import content_hash
from gymbox.collector.store import sibling
from gymbox.protocol import input_items

# What a row asks of the model is everything in responses_create_params but the conversation itself.
_NOT_PARAMS = frozenset({"input", "tools", "instructions", "metadata"})
_MAX_DISTINCT = 10  # non-numeric parameter values listed before we stop listing them
ABSENT = "(absent)"


@dataclass
class _Range:
    n: int = 0
    total: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf

    def add(self, value: float) -> None:
        value = float(value)
        self.n += 1
        self.total += value
        self.lo, self.hi = min(self.lo, value), max(self.hi, value)

    def to_dict(self) -> dict[str, float | int | None]:
        if not self.n:
            return {"min": None, "mean": None, "max": None}
        return {"min": _plain(self.lo), "mean": round(self.total / self.n, 4), "max": _plain(self.hi)}


@dataclass
class _Param:
    rows: int = 0
    numbers: _Range = field(default_factory=_Range)
    values: set[str] = field(default_factory=set)  # JSON of non-numeric values, up to _MAX_DISTINCT

    def add(self, value: Any) -> None:
        self.rows += 1
        if isinstance(value, int | float) and not isinstance(value, bool):
            self.numbers.add(float(value))
        elif len(self.values) < _MAX_DISTINCT:
            self.values.add(json.dumps(value, sort_keys=True))

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {"rows": self.rows}
        if self.numbers.n:
            out["min"], out["max"] = _plain(self.numbers.lo), _plain(self.numbers.hi)
        if self.values:
            out["values"] = sorted(self.values)
        return out


@dataclass
class RowStats:
    """Accumulates the statistics of valid task rows; `invalid` counts the rows that were not."""

    rows: int = 0
    invalid: int = 0
    tools: _Range = field(default_factory=_Range)
    turns: _Range = field(default_factory=_Range)
    chars: _Range = field(default_factory=_Range)
    params: dict[str, _Param] = field(default_factory=dict)
    task_fields: dict[str, int] = field(default_factory=dict)
    prompts: set[str] = field(default_factory=set)

    def add(self, row: dict[str, Any]) -> None:
        create = row["responses_create_params"]
        items = [item for item in input_items(create.get("input")) if isinstance(item, dict)]
        self.rows += 1
        self.tools.add(len(create.get("tools") or []))
        self.turns.add(sum(1 for item in items if item.get("type", "message") == "message"))
        self.chars.add(len(create.get("instructions") or "") + sum(_item_chars(item) for item in items))
        for key, value in create.items():
            if key not in _NOT_PARAMS:
                self.params.setdefault(key, _Param()).add(value)
        for key in row:
            if key != "responses_create_params":
                self.task_fields[key] = self.task_fields.get(key, 0) + 1
        self.prompts.add(content_hash({"instructions": create.get("instructions"), "input": create.get("input")}))

    def to_dict(self) -> dict[str, Any]:
        return {
            "rows": self.rows,
            "invalid_rows": self.invalid,
            "unique_prompts": len(self.prompts),
            "tools_per_row": self.tools.to_dict(),
            "input_messages_per_row": self.turns.to_dict(),
            "input_chars_per_row": self.chars.to_dict(),
            "params": {key: self.params[key].to_dict() for key in sorted(self.params)},
            "task_fields": dict(sorted(self.task_fields.items())),
        }


def _item_chars(item: dict[str, Any]) -> int:
    """Characters of text in one input item: message text, tool-call arguments and tool outputs."""
    total = 0
    for key in ("content", "arguments", "output", "summary"):
        value = item.get(key)
        if isinstance(value, str):
            total += len(value)
        elif isinstance(value, list):
            total += sum(len(part.get("text") or "") for part in value if isinstance(part, dict))
    return total


def _plain(value: float) -> float | int:
    """Whole numbers as ints, so `max_output_tokens: 512` does not read back as 512.0."""
    return int(value) if value.is_integer() else value


def stats_path(dataset: Path) -> Path:
    """`data/example.jsonl` -> `data/example_stats.json`."""
    return sibling(dataset, "stats.json")


def read_stats(path: Path) -> dict[str, Any] | None:
    """The statistics written before, or None when there are none (or they are not JSON)."""
    try:
        old = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError):
        return None
    return old if isinstance(old, dict) else None


def write_stats(path: Path, stats: dict[str, Any]) -> None:
    path.write_text(json.dumps(stats, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def diff_stats(old: dict[str, Any], new: dict[str, Any]) -> list[tuple[str, Any, Any]]:
    """(dotted key, old value, new value) for every leaf that changed; `ABSENT` stands for a missing key."""
    before, after = _flatten(old), _flatten(new)
    return [
        (key, before.get(key, ABSENT), after.get(key, ABSENT))
        for key in sorted(before.keys() | after.keys())
        if before.get(key, ABSENT) != after.get(key, ABSENT)
    ]


def _flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts -> {dotted key: leaf}; an empty dict has no leaves (so `params: {}` gaining a key reads
    as that key appearing, not as `params` changing)."""
    if isinstance(value, dict):
        out: dict[str, Any] = {}
        for key, child in value.items():
            out.update(_flatten(child, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}

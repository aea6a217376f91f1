"""`POST /aggregate_metrics` in NeMo Gym's shape: `{group_level_metrics, agent_metrics, key_metrics}`.

As NeMo Gym's reward profile computes them: every numeric field of a verify response (booleans as 0/1),
and the numbers in its `response.usage`, summarised as `mean/<field>`, `max/`, `min/`, `median/` and
`std/` (the sample standard deviation, 0 for one value), over each task (`_ng_task_index`, 0 when absent)
and over all responses. `key_metrics` holds the `mean/` entries.
"""

from __future__ import annotations

import math
import statistics
from collections import defaultdict
from typing import Any

TASK_INDEX = "_ng_task_index"
ROLLOUT_INDEX = "_ng_rollout_index"
_NOT_SUMMARISED = frozenset({TASK_INDEX, ROLLOUT_INDEX})


def aggregate_metrics(verify_responses: list[dict[str, Any]]) -> dict[str, Any]:
    if not verify_responses:
        return {"group_level_metrics": [], "agent_metrics": {}, "key_metrics": {}}
    by_task: dict[Any, list[dict[str, float]]] = defaultdict(list)
    for response in verify_responses:
        by_task[response.get(TASK_INDEX, 0)].append(_numbers(response))
    every = [numbers for group in by_task.values() for numbers in group]
    groups = []
    for task_index in sorted(by_task, key=str):
        group = by_task[task_index]
        groups.append({TASK_INDEX: task_index, **_describe(group), "num_rollouts": len(group)})
    agent = _describe(every)
    return {
        "group_level_metrics": groups,
        "agent_metrics": agent,
        "key_metrics": {k: v for k, v in agent.items() if k.startswith("mean/")},
    }


def _numbers(response: dict[str, Any]) -> dict[str, float]:
    usage = (response.get("response") or {}).get("usage") if isinstance(response.get("response"), dict) else None
    merged = {**response, **(usage if isinstance(usage, dict) else {})}
    out: dict[str, float] = {}
    for key, value in merged.items():
        if key in _NOT_SUMMARISED or not isinstance(value, bool | int | float):
            continue
        if isinstance(value, float) and math.isnan(value):
            continue
        out[key] = float(value)
    return out


def _describe(rows: list[dict[str, float]]) -> dict[str, float]:
    columns: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        for key, value in row.items():
            columns[key].append(value)
    out: dict[str, float] = {}
    for stat in ("mean", "max", "min", "median", "std"):
        for key in sorted(columns):
            values = columns[key]
            out[f"{stat}/{key}"] = _stat(stat, values)
    return out


def _stat(stat: str, values: list[float]) -> float:
    if stat == "mean":
        return statistics.fmean(values)
    if stat == "max":
        return max(values)
    if stat == "min":
        return min(values)
    if stat == "median":
        return statistics.median(values)
    return statistics.stdev(values) if len(values) > 1 else 0.0

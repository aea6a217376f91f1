"""`gymbox profile`'s reading and writing: a run's profile from its files, a table, the tasks worth keeping."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.table import Table

from gymbox.collector.profile import RunProfile, TaskProfile, as_dict
from gymbox.collector.store import sibling


def profile_file(rollouts: Path, *, pass_threshold: float = 1.0) -> RunProfile:
    """The profile of a rollouts file and its failures file, read as a stream."""
    run = RunProfile(pass_threshold)
    for path in (sibling(rollouts, "failures.jsonl"), rollouts):  # failures first: see RunProfile
        for row in _rows(path):
            run.add(row)
    run.settle()
    return run


def write_varying_tasks(rollouts: Path, run: RunProfile, out: Path) -> tuple[int, int]:
    """Write each task row whose reward varies (or was scored once) to `out`; (written, dropped).

    A rollout row holds its task row's fields (listed in `gymbox.task_fields`), so the task row is
    rebuilt from the first rollout of each task, ready to feed `gymbox rollout` or a trainer again.
    """
    written, seen = 0, set()
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", encoding="utf-8") as handle:
        for row in _rows(rollouts):
            meta = as_dict(row.get("gymbox"))
            key = str(meta.get("task_key", row.get("_ng_task_index")))
            task = run.tasks.get(key)
            if key in seen or task is None or task.constant or "task_fields" not in meta:
                continue
            seen.add(key)
            handle.write(json.dumps({field: row[field] for field in meta["task_fields"] if field in row}) + "\n")
            written += 1
    return written, sum(1 for task in run.tasks.values() if task.constant)


def print_profile(run: RunProfile, *, show: int = 20, console: Console | None = None) -> None:
    console = console or Console()
    summary = run.summary()
    k = summary["k"]
    head = Table(title="Run profile", show_header=False)
    for key in dict.fromkeys(("rollouts", "failed", "tasks", "mean_reward", "std_reward", "pass@1", f"pass@{k}")):
        head.add_row(key, _fmt(summary.get(key)))
    constant = summary["constant_tasks"]
    head.add_row(
        "constant tasks", f"{sum(constant.values())} ({constant['all_zero']} all 0, {constant['all_pass']} all pass)"
    )
    for name, value in summary["latency_s"].items():
        head.add_row(f"latency {name} (s)", _fmt(value))
    console.print(head)
    if len(summary["per_environment"]) > 1:
        groups = Table(title="Per environment")
        for col in ("environment", "tasks", "rollouts", "mean_reward", "pass@1", "constant"):
            groups.add_column(col)
        for name, group in summary["per_environment"].items():
            groups.add_row(
                name,
                str(group["tasks"]),
                str(group["rollouts"]),
                _fmt(group["mean_reward"]),
                _fmt(group["pass@1"]),
                str(group["constant_tasks"]),
            )
        console.print(groups)
    # The most informative tasks first: highest variance; constant ones after them.
    ranked = sorted(run.tasks.values(), key=lambda t: (-(t.variance or 0.0), t.environment, t.index))
    if show and ranked:
        tasks = Table(title=f"Tasks by reward variance (first {min(show, len(ranked))} of {len(ranked)})")
        for col in ("environment", "task", "rollouts", "mean_reward", "variance"):
            tasks.add_column(col)
        tasks.add_column("flag", no_wrap=True)
        for task in ranked[:show]:
            tasks.add_row(
                task.environment, str(task.index), str(task.n), _fmt(task.mean), _fmt(task.variance), _flag(task)
            )
        console.print(tasks)


def _flag(task: TaskProfile) -> str:
    if not task.constant:
        return ""
    return f"constant: {task.lo:g}"


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    return f"{value:.4f}" if isinstance(value, float) else str(value)


def _rows(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                continue  # a torn line: `gymbox rollout --resume` repairs it
            if isinstance(row, dict):
                yield row

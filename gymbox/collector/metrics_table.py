"""Printing metrics as rich tables."""

from __future__ import annotations

from itertools import islice
from typing import Any

from rich.console import Console
from rich.table import Table

_PER_TASK_SHOWN = 20


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:.4f}"
    return str(value)


def _summary_keys(k: int) -> list[str]:
    """pass@k and mean@k only with rollouts (k >= 1), and pass@k once when k is 1."""
    keys = ["rollouts", "tasks", "mean_reward", "std_reward", "min_reward", "max_reward"]
    if k >= 1:
        keys += ["pass@1"] if k == 1 else ["pass@1", f"pass@{k}"]
        keys.append(f"mean@{k}")
    return [*keys, "throughput_rollouts_per_s", "wall_time_s"]


def print_metrics(metrics: dict[str, Any], console: Console | None = None) -> None:
    console = console or Console()
    summary = Table(title="Rollout metrics", show_header=False)
    for key in _summary_keys(metrics.get("k", 0)):
        if key in metrics:
            summary.add_row(key, _fmt(metrics[key]))
    for status, count in sorted(metrics.get("status_counts", {}).items()):
        summary.add_row(f"status/{status}", str(count))
    for kind, count in sorted(metrics.get("failures", {}).items()):
        summary.add_row(f"failed/{kind}", str(count))
    for key, value in metrics.get("extra_means", {}).items():
        summary.add_row(f"mean/{key}", _fmt(value))
    console.print(summary)
    if len(metrics.get("per_agent", {})) > 1:
        agents = Table(title="Per agent")
        for col in ("agent", "rollouts", "mean_reward"):
            agents.add_column(col)
        for name, row in metrics["per_agent"].items():
            agents.add_row(name, str(row["rollouts"]), _fmt(row["mean_reward"]))
        console.print(agents)
    tasks = metrics.get("per_task", [])
    if tasks:
        shown = list(islice(tasks, _PER_TASK_SHOWN))
        table = Table(title=f"Per task (first {len(shown)} of {len(tasks)})")
        for col in ("agent", "task", "rollouts", "mean_reward", "passes"):
            table.add_column(col, overflow="fold")  # an agent's name is not cut short in a narrow terminal
        for row in shown:
            table.add_row(
                row["agent"], str(row["task_index"]), str(row["rollouts"]), _fmt(row["mean_reward"]), str(row["passes"])
            )
        console.print(table)

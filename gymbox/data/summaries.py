"""The tables `gymbox data` prints (rich). Errors and diffs are plain lines, printed by the command, so
that a `file:line: field: message` is never wrapped and stays greppable."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.table import Table
from rich.text import Text

from gymbox.data.export import ExportResult
from gymbox.data.prepare import PrepareResult
from gymbox.data.validate import DatasetReport


def _fmt(value: Any) -> str:
    if value is None:
        return "-"
    if isinstance(value, float):
        return f"{value:g}"
    return str(value)


def _range(stats: dict[str, Any]) -> str:
    return " / ".join(_fmt(stats.get(k)) for k in ("min", "mean", "max"))


def print_dataset_stats(report: DatasetReport, console: Console) -> None:
    stats = report.stats
    # The heading is printed unwrapped: a long path split over lines is hard to copy.
    console.print(Text.assemble((report.label, "bold"), f": {report.path}"), soft_wrap=True)
    table = Table(show_header=False)
    table.add_column("statistic", style="bold")
    table.add_column("value")
    table.add_row("rows", _fmt(stats["rows"]))
    table.add_row("invalid rows", _fmt(stats["invalid_rows"]))
    table.add_row("unique prompts", _fmt(stats["unique_prompts"]))
    table.add_row("tools per row (min / mean / max)", _range(stats["tools_per_row"]))
    table.add_row("input messages per row", _range(stats["input_messages_per_row"]))
    table.add_row("input characters per row", _range(stats["input_chars_per_row"]))
    for name, param in stats["params"].items():
        if "min" in param:
            low, high = _fmt(param["min"]), _fmt(param["max"])
            span = low if low == high else f"{low} .. {high}"
        else:
            span = ", ".join(param.get("values", []))
        table.add_row(f"param {name}", f"{param['rows']} rows: {span}")
    for name, count in stats["task_fields"].items():
        table.add_row(f"field {name}", f"{count} rows")
    console.print(table)


def print_prepare(result: PrepareResult, splits: tuple[str, ...], console: Console) -> None:
    table = Table(title="Rows per agent")
    table.add_column("agent")
    for split in splits:
        table.add_column(split, justify="right")
    agents = sorted({agent for agent, _ in result.counts})
    for agent in agents:
        table.add_row(agent, *(str(result.counts[(agent, split)]) for split in splits))
    table.add_row("total", *(str(sum(result.counts[(a, split)] for a in agents)) for split in splits), style="bold")
    console.print(table)


def print_export(result: ExportResult, console: Console) -> None:
    table = Table(title="Export", show_header=False, title_justify="left")
    table.add_column("what", style="bold")
    table.add_column("count", justify="right")
    table.add_row("rollouts used", str(result.rollouts_used))
    for reason, count in sorted(result.skipped.items()):
        table.add_row(f"rollouts skipped: {reason}", str(count))
    table.add_row("tasks", str(result.tasks))
    for reason, count in sorted(result.tasks_dropped.items()):
        table.add_row(f"tasks without a row: {reason}", str(count))
    table.add_row("rows written", str(result.rows))
    console.print(table)

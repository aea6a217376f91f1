"""What `gymbox rollout` says when it ends: failed rollouts, rejected rows (the first few shown), and
whether they were more than `--max-failures` allows, which makes the exit code 3.

One vocabulary, in the progress bar, the summary and `--json`:
- `failed`: rollouts our side could not finish (`infra_error`, `timeout`), in `<out>_failures.jsonl`;
- `rejected`: input rows that are not valid task rows, or that the agent refused, in `<out>_rejects.jsonl`.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from gymbox.collector.store import sibling

if TYPE_CHECKING:
    from gymbox.collector.runner import RunSummary

TOO_MANY_FAILURES_EXIT = 3
REJECTS_SHOWN = 5


@dataclass(frozen=True)
class FailureLimit:
    """`--max-failures`: a count (`0`, `10`) or a fraction of the rollouts attempted (`0.05`; `1.0`: any)."""

    count: int | None = None
    fraction: float | None = None

    @classmethod
    def parse(cls, text: str | FailureLimit) -> FailureLimit:
        if isinstance(text, FailureLimit):
            return text
        try:
            if text.strip().isdigit():
                return cls(count=int(text))
            value = float(text)
        except ValueError:
            value = -1.0
        if not 0.0 <= value <= 1.0:
            raise typer.BadParameter(
                f"{text!r} is neither a count (0, 1, 2, ...) nor a fraction from 0.0 to 1.0 (e.g. 0.05)",
                param_hint="--max-failures",
            )
        return cls(fraction=value)

    def allowed(self, attempted: int) -> float:
        return float(self.count) if self.count is not None else (self.fraction or 0.0) * attempted

    def __str__(self) -> str:
        return str(self.count) if self.count is not None else f"{self.fraction:g} of the rollouts attempted"


def bad(summary: RunSummary) -> int:
    """Failed rollouts plus rejected rows: what --max-failures limits."""
    return summary.failed + summary.rejected


def over_limit(summary: RunSummary, limit: FailureLimit) -> bool:
    attempted = summary.written + summary.failed + summary.rejected
    return bad(summary) > limit.allowed(attempted)


def read_new(path: Path, start: int, n: int = REJECTS_SHOWN) -> list[dict[str, Any]]:
    """The first `n` records this run appended to a JSONL file: those past byte `start` (--resume appends)."""
    if not path.exists():
        return []
    shown: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        handle.seek(start)
        for raw in handle:
            if len(shown) == n:
                break
            try:
                shown.append(json.loads(raw))
            except json.JSONDecodeError:
                continue
    return shown


def file_size(path: Path) -> int:
    return path.stat().st_size if path.exists() else 0


def _where(record: dict[str, Any]) -> str:
    return f"{record['file']}:{record.get('line', '?')}" if record.get("file") else f"line {record.get('line', '?')}"


def summary_lines(
    summary: RunSummary,
    output: Path,
    metrics_path: Path,
    rejects: list[dict[str, Any]],
    failures: list[dict[str, Any]],
) -> list[str]:
    lines = [
        f"{summary.written} rollouts written to {output}; {summary.failed} failed, {summary.rejected} rejected, "
        f"{summary.skipped} already done; metrics in {metrics_path}"
    ]
    if failures:
        first = failures[0]
        lines.append(f"first failure ({first.get('status', '?')}, {_where(first)}): {first.get('error', '?')}")
        lines.append(f"every failed rollout, with its error: {sibling(output, 'failures.jsonl')}")
    if rejects:
        lines.append(f"rejected rows ({len(rejects)} of {summary.rejected} shown):")
        lines += [f"  {_where(r)}: {r.get('error', '?')}" for r in rejects]
        lines.append(f"every rejected row, with its reason: {sibling(output, 'rejects.jsonl')}")
    return lines


def verdict(summary: RunSummary, limit: FailureLimit) -> str:
    return (
        f"error: {summary.failed} failed + {summary.rejected} rejected = {bad(summary)}, more than "
        f"--max-failures allows ({limit}); exit code {TOO_MANY_FAILURES_EXIT}"
    )


def summary_json(
    summary: RunSummary,
    output: Path,
    metrics: dict[str, Any],
    metrics_path: Path,
    rejects: list[dict[str, Any]],
    limit: FailureLimit,
) -> dict[str, Any]:
    return {
        "written": summary.written,
        "failed": summary.failed,
        "rejected": summary.rejected,
        "skipped": summary.skipped,
        "interrupted": summary.interrupted,
        "elapsed_s": round(summary.elapsed_s, 3),
        "max_failures": limit.count if limit.count is not None else limit.fraction,
        "too_many_failures": over_limit(summary, limit),
        "files": {
            "rollouts": str(output),
            "failures": str(sibling(output, "failures.jsonl")),
            "rejects": str(sibling(output, "rejects.jsonl")),
            "metrics": str(metrics_path),
        },
        "first_rejects": [{"file": r.get("file"), "line": r.get("line"), "error": r.get("error")} for r in rejects],
        "metrics": {key: value for key, value in metrics.items() if key != "per_task"},
    }

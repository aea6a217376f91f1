"""Metrics of a rollouts file: rewards, pass@k / mean@k over repeats, failures, extra verifier fields.

Only scored rollouts (`ok`, `model_error`) count toward rewards. Failures (`infra_error`, `timeout`) are
counted by kind, from the failures file, for pairs that were never scored later (a resumed run retries
them). The rollouts are read as a stream and each task keeps a small tally (count, sum, passes), so
memory grows with the number of tasks only, and per-task rows are written to the JSON one at a time.
"""

from __future__ import annotations

import json
import math
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gymbox import json_codec
from gymbox.collector.rows import content_hash
from gymbox.collector.store import rollout_key, sibling
from gymbox.errors import RolloutStatus

SCORED = tuple(status for status in RolloutStatus if status.scored)  # ok, model_error
_NOT_METRICS = {"reward", "_ng_task_index", "_ng_rollout_index"}
# A row from elsewhere (NeMo Gym's own rollouts) does not say which fields were the task's: names that
# identify a task are not averaged.
_IDENTIFIER = re.compile(r"^(id|uid|idx|index)$|_(id|uid|idx|index)$", re.IGNORECASE)


@dataclass(slots=True)
class _Tally:
    """One task's rollouts, without keeping them."""

    index: int
    agent: str
    n: int = 0
    total: float = 0.0
    passes: int = 0


@dataclass(slots=True)
class _Welford:
    """Running mean and variance without keeping the values."""

    n: int = 0
    mean: float = 0.0
    m2: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf

    def add(self, x: float) -> None:
        self.n += 1
        delta = x - self.mean
        self.mean += delta / self.n
        self.m2 += delta * (x - self.mean)
        self.lo, self.hi = min(self.lo, x), max(self.hi, x)

    @property
    def std(self) -> float:
        """The sample standard deviation (n - 1), as NeMo Gym's reward profile reports it."""
        return math.sqrt(self.m2 / (self.n - 1)) if self.n > 1 else 0.0


class PerTaskRows:
    """The per-task rows, sorted by agent and task index, made one at a time when read."""

    def __init__(self, tasks: dict[str, _Tally]) -> None:
        self._items = sorted(tasks.items(), key=lambda kv: (kv[1].agent, kv[1].index))

    def __len__(self) -> int:
        return len(self._items)

    def __iter__(self) -> Iterator[dict[str, Any]]:
        for key, t in self._items:
            yield {
                "task_index": t.index,
                "task_key": key,
                "agent": t.agent,
                "rollouts": t.n,
                "mean_reward": t.total / t.n,
                "passes": t.passes,
            }


@dataclass(slots=True)
class _RunSpan:
    """The scored rollouts of the file's last run (rows carry their run's id; a resume appends a new run),
    so throughput is this run's, not every row of the file over this run's time."""

    run_id: Any = None
    rollouts: int = 0
    first_start: float = math.inf
    last_end: float = -math.inf

    def add(self, meta: dict[str, Any]) -> None:
        if meta.get("run") != self.run_id:
            self.run_id, self.rollouts, self.first_start, self.last_end = meta.get("run"), 0, math.inf, -math.inf
        self.rollouts += 1
        if isinstance(meta.get("started_at"), int | float) and isinstance(meta.get("latency_s"), int | float):
            self.first_start = min(self.first_start, meta["started_at"])
            self.last_end = max(self.last_end, meta["started_at"] + meta["latency_s"])

    @property
    def wall_s(self) -> float | None:
        return self.last_end - self.first_start if self.last_end > self.first_start else None


def pass_at_k(n: int, c: int, k: int) -> float:
    """Unbiased pass@k from n samples with c passes (Chen et al. 2021): 1 - C(n-c, k) / C(n, k)."""
    if n - c < k:
        return 1.0
    return 1.0 - math.comb(n - c, k) / math.comb(n, k)


def compute_metrics(output: Path, *, pass_threshold: float = 1.0, elapsed_s: float | None = None) -> dict[str, Any]:
    open_failures = _failures(output)
    tasks: dict[str, _Tally] = {}
    reward = _Welford()
    extras: dict[str, _Welford] = defaultdict(_Welford)
    statuses: Counter[str] = Counter()
    run = _RunSpan()
    for row in _read_jsonl(output):
        meta = row.get("gymbox") or {}
        status = row.get("status", "ok")
        statuses[status] += 1
        if status not in SCORED or not isinstance(row.get("reward"), int | float):
            continue
        task_key = _task_key(row, meta)
        open_failures.pop(rollout_key(task_key, int(row.get("_ng_rollout_index", 0))), None)
        value = float(row["reward"])
        reward.add(value)
        agent = (row.get("agent_ref") or {}).get("name", "")
        tally = tasks.get(task_key)
        if tally is None:
            tally = tasks[task_key] = _Tally(int(row.get("_ng_task_index", -1)), agent)
        tally.n += 1
        tally.total += value
        tally.passes += value >= pass_threshold
        task_fields = meta.get("task_fields")  # the row's own fields (an `id`) are not metrics
        for key, extra in row.items():
            if key in _NOT_METRICS or key.startswith("_ng_"):
                continue
            if key in task_fields if task_fields is not None else _IDENTIFIER.search(key):
                continue
            if isinstance(extra, int | float):  # a bool counts as 0/1, as aggregate_metrics has it
                extras[key].add(float(extra))
        run.add(meta)
    k = min((t.n for t in tasks.values()), default=0)
    wall = elapsed_s if elapsed_s is not None else run.wall_s
    return {
        "rollouts": reward.n,
        "tasks": len(tasks),
        "mean_reward": reward.mean if reward.n else None,
        "std_reward": reward.std if reward.n else None,
        "min_reward": reward.lo if reward.n else None,
        "max_reward": reward.hi if reward.n else None,
        "pass_threshold": pass_threshold,
        "k": k,
        **_at_k(tasks, k),
        "status_counts": dict(statuses),
        "failures": dict(Counter(open_failures.values())),
        "extra_means": {key: w.mean for key, w in sorted(extras.items())},
        "throughput_rollouts_per_s": run.rollouts / wall if wall else None,  # of the last run only
        "wall_time_s": wall,
        "per_agent": _per_agent(tasks),
        "per_task": PerTaskRows(tasks),
    }


def _at_k(tasks: dict[str, _Tally], k: int) -> dict[str, float | None]:
    """pass@1, pass@k and mean@k over repeats; nothing at all without rollouts (there is no pass@0)."""
    if not k:
        return {}
    return {
        "pass@1": _mean(pass_at_k(t.n, t.passes, 1) for t in tasks.values()),
        f"pass@{k}": _mean(pass_at_k(t.n, t.passes, k) for t in tasks.values()),
        f"mean@{k}": _mean(t.total / t.n for t in tasks.values()),
    }


def _task_key(row: dict[str, Any], meta: dict[str, Any]) -> str:
    """gymbox's content key, else NeMo Gym's `_ng_task_index`, else a hash of the row's request (a rollouts
    file from elsewhere), so rows of different tasks never pool into one."""
    if meta.get("task_key") is not None:
        return str(meta["task_key"])
    if row.get("_ng_task_index") is not None:
        return str(row["_ng_task_index"])
    return "request:" + content_hash({"responses_create_params": row.get("responses_create_params")})


def _mean(values: Any) -> float | None:
    total, n = 0.0, 0
    for value in values:
        total += value
        n += 1
    return total / n if n else None


def _per_agent(tasks: dict[str, _Tally]) -> dict[str, dict[str, float | int]]:
    sums: dict[str, list[float]] = defaultdict(lambda: [0, 0.0])
    for task in tasks.values():
        sums[task.agent][0] += task.n
        sums[task.agent][1] += task.total
    return {agent: {"rollouts": int(n), "mean_reward": total / n} for agent, (n, total) in sorted(sums.items())}


def _failures(output: Path) -> dict[str, str]:
    """{pair key: kind} of every failed pair; a pair that failed in several runs counts once, as its last."""
    latest: dict[str, str] = {}
    for row in _read_jsonl(sibling(output, "failures.jsonl")):
        key = rollout_key(str((row.get("gymbox") or {}).get("task_key")), int(row.get("_ng_rollout_index", 0)))
        latest[key] = row.get("status", "infra_error")
    return latest


def _read_jsonl(path: Path) -> Iterator[dict[str, Any]]:
    if not path.exists():
        return
    with path.open(encoding="utf-8") as handle:
        for text in handle:
            try:
                yield json_codec.loads(text)
            except (ValueError, RecursionError):  # a torn last line, or one nested too deep
                continue


def write_metrics(output: Path, metrics: dict[str, Any]) -> Path:
    """`<stem>_metrics.json`: the summary, then the per-task rows written one per line."""
    path = sibling(output, "metrics.json")
    summary = {key: value for key, value in metrics.items() if key != "per_task"}
    head = json.dumps(summary, indent=2)
    with path.open("w", encoding="utf-8") as handle:
        handle.write(head[: head.rfind("}")].rstrip() + ',\n  "per_task": [')
        for i, row in enumerate(metrics.get("per_task", ())):
            handle.write(("," if i else "") + "\n    " + json.dumps(row))
        handle.write("\n  ]\n}\n")
    return path

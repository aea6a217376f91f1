"""What the viewer's tables ask of an index: filtered, sorted pages of tasks, and two runs compared.

Every query walks the per-task tallies (one small object per task), never the rows, and returns one
page, so a request on a 100,000-row run takes milliseconds and sends a few kilobytes.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from gymbox.collector.profile import TaskProfile
from gymbox.viewer.index import RunIndex

SORTS = ("index", "mean", "variance", "rollouts", "delta")


@dataclass(frozen=True)
class TaskFilter:
    environment: str = ""
    agent: str = ""
    status: str = ""  # tasks with at least one rollout of this status
    min_reward: float | None = None  # on the task's mean reward
    max_reward: float | None = None
    text: str = ""  # in the task key, prompt, agent or environment
    constant: bool | None = None  # True: only tasks whose reward never varies; False: only those that vary

    def keeps(self, task: TaskProfile) -> bool:
        if self.environment and task.environment != self.environment:
            return False
        if self.agent and task.agent != self.agent:
            return False
        if self.status and self.status not in task.statuses:
            return False
        if self.constant is not None and task.constant != self.constant:
            return False
        mean = task.mean
        if self.min_reward is not None and (mean is None or mean < self.min_reward):
            return False
        if self.max_reward is not None and (mean is None or mean > self.max_reward):
            return False
        if self.text:
            needle = self.text.lower()
            haystack = f"{task.key} {task.index} {task.agent} {task.environment} {task.prompt}".lower()
            return needle in haystack
        return True


def task_page(
    index: RunIndex,
    where: TaskFilter,
    *,
    sort: str = "index",
    descending: bool = False,
    offset: int = 0,
    limit: int = 100,
) -> dict[str, Any]:
    """{total, tasks: [...]} — the tasks `where` keeps, sorted, one page of them."""
    kept = [task for task in _ordered(index, sort, descending) if where.keeps(task)]
    return {
        "total": len(kept),
        "offset": offset,
        "tasks": [task_row(t.position, t) for t in kept[offset : offset + limit]],
    }


def task_row(task_id: int, task: TaskProfile) -> dict[str, Any]:
    return {"id": task_id, **task.as_dict()}


def _ordered(index: RunIndex, sort: str, descending: bool) -> list[TaskProfile]:
    """The run's tasks in this order, sorted once: a run does not change while it is viewed."""
    order = index.orders.get((sort, descending))
    if order is None:
        order = index.orders[(sort, descending)] = sorted(index.tasks, key=lambda t: _sort_key(t, sort, descending))
    return order


def _sort_key(task: TaskProfile, sort: str, descending: bool) -> tuple[float, ...]:
    value = {
        "mean": task.mean,
        "variance": task.variance,
        "rollouts": float(task.n),
    }.get(sort, float(task.index))
    # Tasks with no scored rollout sort last whichever way; ties keep task order.
    if value is None:
        return (1.0, 0.0, float(task.index))
    return (0.0, -value if descending else value, float(task.index))


def compare(
    a: RunIndex, b: RunIndex, *, text: str = "", sort: str = "delta", offset: int = 0, limit: int = 100
) -> dict[str, Any]:
    """Two runs side by side: mean reward per environment and per shared task, with b - a."""
    pairs: list[tuple[TaskProfile, TaskProfile]] = []
    for key, task_a in a.profile.tasks.items():
        task_b = b.profile.tasks.get(key)
        if task_b is not None and task_a.n and task_b.n:
            pairs.append((task_a, task_b))
    environments: dict[str, list[float]] = {}
    for task_a, task_b in pairs:
        sums = environments.setdefault(task_a.environment, [0, 0.0, 0.0, 0, 0])
        sums[0] += 1
        sums[1] += task_a.mean or 0.0
        sums[2] += task_b.mean or 0.0
        sums[3] += (task_b.mean or 0.0) > (task_a.mean or 0.0)
        sums[4] += (task_b.mean or 0.0) < (task_a.mean or 0.0)
    needle = text.lower()
    shown = [
        (task_a, task_b)
        for task_a, task_b in pairs
        if not needle or needle in f"{task_a.key} {task_a.index} {task_a.environment} {task_a.prompt}".lower()
    ]
    if sort == "delta":
        shown.sort(key=lambda p: (-abs((p[1].mean or 0.0) - (p[0].mean or 0.0)), p[0].index))
    else:
        shown.sort(key=lambda p: (p[0].environment, p[0].index))
    mean_a, mean_b = _pooled_mean(a), _pooled_mean(b)
    return {
        "a": {"name": a.name, "mean_reward": mean_a, "tasks": len(a.profile.tasks)},
        "b": {"name": b.name, "mean_reward": mean_b, "tasks": len(b.profile.tasks)},
        "delta": mean_b - mean_a if mean_a is not None and mean_b is not None else None,
        "shared_tasks": len(pairs),
        "improved": sum(1 for ta, tb in pairs if (tb.mean or 0.0) > (ta.mean or 0.0)),
        "regressed": sum(1 for ta, tb in pairs if (tb.mean or 0.0) < (ta.mean or 0.0)),
        "per_environment": {
            name: {
                "tasks": int(n),
                "mean_a": total_a / n,
                "mean_b": total_b / n,
                "delta": (total_b - total_a) / n,
                "improved": int(up),
                "regressed": int(down),
            }
            for name, (n, total_a, total_b, up, down) in sorted(environments.items())
        },
        "total": len(shown),
        "offset": offset,
        "tasks": [
            {
                "task_key": ta.key,
                "task_index": ta.index,
                "environment": ta.environment,
                "prompt": ta.prompt,
                "id_a": ta.position,
                "id_b": tb.position,
                "mean_a": ta.mean,
                "mean_b": tb.mean,
                "rollouts_a": ta.n,
                "rollouts_b": tb.n,
                "delta": (tb.mean or 0.0) - (ta.mean or 0.0),
            }
            for ta, tb in shown[offset : offset + limit]
        ],
    }


def _pooled_mean(index: RunIndex) -> float | None:
    rewards = index.profile.rewards
    return math.fsum(rewards) / len(rewards) if rewards else None

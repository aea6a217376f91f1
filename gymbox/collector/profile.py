"""Per-task analysis of a run: which tasks carry a training signal, and the run's shape at a glance.

A task whose reward never varies across its repeats (all 0, all 1, or any other single value) gives a
group-relative policy gradient nothing to learn from: every advantage is zero. `RunProfile` reads rows
one at a time and keeps a small tally per task (count, sum, sum of squares, extremes, passes) and one
reward and one latency per rollout in flat arrays, so a 100,000-row file costs a few MiB. The viewer
builds the same profile while it indexes a file, and `gymbox profile` prints it.
"""

from __future__ import annotations

import math
import sys
from array import array
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from gymbox.collector.metrics import SCORED, pass_at_k
from gymbox.collector.store import rollout_key

PROMPT_CHARS = 160  # enough of the prompt to recognise and search a task by
HISTOGRAM_BINS = 20
_LATENCY_PERCENTILES = (50, 90, 99)


@dataclass(slots=True)
class TaskProfile:
    """One task's rollouts, tallied: what its rewards say without keeping them."""

    key: str
    index: int  # `_ng_task_index`
    position: int  # order of first appearance in the run: an id for the task within it
    agent: str
    environment: str
    prompt: str
    n: int = 0  # scored rollouts
    total: float = 0.0
    sumsq: float = 0.0
    lo: float = math.inf
    hi: float = -math.inf
    passes: int = 0
    statuses: dict[str, int] = field(default_factory=dict)  # every rollout, failures included

    def add(self, status: str, reward: float | None, passed: bool) -> None:
        self.statuses[status] = self.statuses.get(status, 0) + 1
        if reward is None:
            return
        self.n += 1
        self.total += reward
        self.sumsq += reward * reward
        self.lo, self.hi = min(self.lo, reward), max(self.hi, reward)
        self.passes += passed

    @property
    def mean(self) -> float | None:
        return self.total / self.n if self.n else None

    @property
    def variance(self) -> float | None:
        """Population variance of the rewards (0 for a constant task)."""
        if not self.n:
            return None
        mean = self.total / self.n
        return max(self.sumsq / self.n - mean * mean, 0.0) if self.lo != self.hi else 0.0

    @property
    def constant(self) -> bool:
        """Repeated, and every repeat scored the same: no signal for group-relative training."""
        return self.n >= 2 and self.lo == self.hi

    def as_dict(self) -> dict[str, Any]:
        return {
            "task_key": self.key,
            "task_index": self.index,
            "agent": self.agent,
            "environment": self.environment,
            "rollouts": self.n,
            "mean_reward": self.mean,
            "variance": self.variance,
            "min_reward": self.lo if self.n else None,
            "max_reward": self.hi if self.n else None,
            "passes": self.passes,
            "constant": self.constant,
            "statuses": dict(sorted(self.statuses.items())),
            "prompt": self.prompt,
        }


@dataclass(slots=True)
class GroupTally:
    """Rollouts and reward of a group of tasks (an agent, an environment)."""

    tasks: int = 0
    rollouts: int = 0
    total: float = 0.0
    pass1: float = 0.0
    constant: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "tasks": self.tasks,
            "rollouts": self.rollouts,
            "mean_reward": self.total / self.rollouts if self.rollouts else None,
            "pass@1": self.pass1 / self.tasks if self.tasks else None,
            "constant_tasks": self.constant,
        }


class RunProfile:
    """Tallies rows of a rollouts file and its failures file as they are read (the failures file first)."""

    def __init__(self, pass_threshold: float = 1.0) -> None:
        self.pass_threshold = pass_threshold
        self.tasks: dict[str, TaskProfile] = {}
        self.rewards = array("d")  # scored rollouts only
        self.latencies = array("d")
        self.statuses: Counter[str] = Counter()
        # {pair key: kind} of failed (task, repeat) pairs not scored since, as `gymbox metrics` counts them:
        # read the failures file first, and a later scored rollout of the pair (a resumed run) clears it.
        self.open_failures: dict[str, str] = {}
        self._environments: dict[str, str] = {}  # agent -> environment, worked out once per agent

    def add(self, row: dict[str, Any]) -> TaskProfile:
        """Tally one row (a scored rollout or a failure) and return its task."""
        meta = as_dict(row.get("gymbox"))
        status = sys.intern(str(row.get("status", "ok")))  # one string per status, not one per row
        self.statuses[status] += 1
        task = self._task(row, meta)
        reward = row.get("reward")
        scored = status in SCORED and isinstance(reward, int | float) and not isinstance(reward, bool)
        value = float(reward) if scored and isinstance(reward, int | float) else None
        task.add(status, value, value is not None and value >= self.pass_threshold)
        repeat = row.get("_ng_rollout_index", 0)
        pair = rollout_key(task.key, repeat if isinstance(repeat, int) else -1)
        if value is not None:
            self.rewards.append(value)
            self.open_failures.pop(pair, None)
        elif status not in SCORED:
            self.open_failures[pair] = status
        latency = meta.get("latency_s")
        if isinstance(latency, int | float) and not isinstance(latency, bool):
            self.latencies.append(float(latency))
        return task

    def _task(self, row: dict[str, Any], meta: dict[str, Any]) -> TaskProfile:
        key = str(meta.get("task_key", row.get("_ng_task_index")))
        task = self.tasks.get(key)
        if task is None:
            agent = sys.intern(str(as_dict(row.get("agent_ref")).get("name", "")))
            index = row.get("_ng_task_index", -1)
            index = int(index) if isinstance(index, int) else -1
            environment = self._environment(agent, meta.get("images"))
            task = self.tasks[key] = TaskProfile(key, index, len(self.tasks), agent, environment, prompt_of(row))
        return task

    def _environment(self, agent: str, images: Any) -> str:
        known = self._environments.get(agent)
        if known is None:
            known = environment_of(agent, images)
            if isinstance(images, dict):  # only a row with the stack's images settles it
                self._environments[agent] = known
        return known

    # ------------------------------------------------------------------ summaries

    def settle(self) -> None:
        """After the last row: a task first seen in a failure row without the stack's images gets the
        environment its agent's other rows named."""
        for task in self.tasks.values():
            if task.environment == task.agent:
                task.environment = self._environments.get(task.agent, task.environment)

    @property
    def failures(self) -> Counter[str]:
        """Failed pairs by kind, counting only those never scored later."""
        return Counter(self.open_failures.values())

    def summary(self) -> dict[str, Any]:
        """The run at a glance: rewards, pass@k, constant tasks, groups, failures, latency."""
        tasks = [t for t in self.tasks.values() if t.n]
        k = min((t.n for t in tasks), default=0)
        n = len(self.rewards)
        mean = math.fsum(self.rewards) / n if n else None
        failures = self.failures
        return {
            "rollouts": n,
            "failed": sum(failures.values()),
            "tasks": len(self.tasks),
            "mean_reward": mean,
            "std_reward": _sample_std(self.rewards, mean),
            "pass_threshold": self.pass_threshold,
            "k": k,
            "pass@1": _mean([pass_at_k(t.n, t.passes, 1) for t in tasks]) if k else None,
            f"pass@{k}": _mean([pass_at_k(t.n, t.passes, k) for t in tasks]) if k else None,
            "constant_tasks": self.constant_counts(),
            "status_counts": dict(sorted(self.statuses.items())),
            "failures": dict(sorted(failures.items())),
            "latency_s": percentiles(self.latencies),
            "histogram": histogram(self.rewards),
            "per_environment": self._groups(lambda t: t.environment),
            "per_agent": self._groups(lambda t: t.agent),
        }

    def constant_counts(self) -> dict[str, int]:
        """Tasks whose reward never varies: all 0, all passing, or stuck at another value."""
        counts = {"all_zero": 0, "all_pass": 0, "other": 0}
        for task in self.tasks.values():
            if task.constant:
                kind = "all_zero" if task.hi == 0 else "all_pass" if task.lo >= self.pass_threshold else "other"
                counts[kind] += 1
        return counts

    def _groups(self, group_of: Any) -> dict[str, dict[str, Any]]:
        groups: dict[str, GroupTally] = {}
        for task in self.tasks.values():
            tally = groups.setdefault(group_of(task), GroupTally())
            tally.tasks += 1
            tally.rollouts += task.n
            tally.total += task.total
            tally.pass1 += task.passes / task.n if task.n else 0.0
            tally.constant += task.constant
        return {name: tally.as_dict() for name, tally in sorted(groups.items())}


def as_dict(value: Any) -> dict[str, Any]:
    """`value` if it is an object, else an empty one: rows are read as they are, odd fields and all."""
    return value if isinstance(value, dict) else {}


def environment_of(agent: str, images: Any) -> str:
    """The environment an agent's rollouts come from.

    Rows name their agent, not its environment; the collector stamps the stack's images, where
    environments are the instances running a `gymbox/env-*` image. An agent belongs to the environment
    its name starts with (NeMo Gym names agents `<environment>_<agent>`); a stack with one environment
    owns every agent. Rows without that metadata group by agent.
    """
    if not isinstance(images, dict):
        return agent or "-"
    environments = [name for name, image in images.items() if str(image).startswith("gymbox/env-")]
    owners = [name for name in environments if agent.startswith(name)]
    if owners:
        return str(max(owners, key=len))
    return str(environments[0]) if len(environments) == 1 else agent or "-"


def prompt_of(row: dict[str, Any]) -> str:
    """The last user message of the task, shortened: what a person recognises a task by."""
    params = row.get("responses_create_params")
    items = params.get("input") if isinstance(params, dict) else None
    if isinstance(items, str):
        return items[:PROMPT_CHARS]
    for item in reversed(items if isinstance(items, list) else []):
        if isinstance(item, dict) and item.get("role") == "user":
            return " ".join(content_text(item.get("content")).split())[:PROMPT_CHARS]
    return ""


def content_text(content: Any) -> str:
    """Text of a message's content: a string, or a list of parts with `text`."""
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return "\n".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def percentiles(values: Iterable[float]) -> dict[str, float | None]:
    ordered = sorted(values)
    if not ordered:
        return dict.fromkeys([*(f"p{p}" for p in _LATENCY_PERCENTILES), "max"])
    picks: dict[str, float | None] = {
        f"p{p}": ordered[min(len(ordered) - 1, math.ceil(p / 100 * len(ordered)) - 1)] for p in _LATENCY_PERCENTILES
    }
    return picks | {"max": ordered[-1]}


def histogram(values: array[float], bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Counts over equal bins; [0, 1] when every value lies there (most rewards), else [min, max]."""
    if not values:
        return {"lo": 0.0, "hi": 1.0, "counts": [0] * bins}
    lo, hi = min(values), max(values)
    if lo >= 0.0 and hi <= 1.0:
        lo, hi = 0.0, 1.0
    if hi == lo:
        hi = lo + 1.0
    counts = [0] * bins
    width = (hi - lo) / bins
    for value in values:
        counts[min(bins - 1, int((value - lo) / width))] += 1
    return {"lo": lo, "hi": hi, "counts": counts}


def _sample_std(values: array[float], mean: float | None) -> float | None:
    """The sample standard deviation (n - 1), as `gymbox metrics` and NeMo Gym report it."""
    if mean is None:
        return None
    return math.sqrt(math.fsum((v - mean) ** 2 for v in values) / (len(values) - 1)) if len(values) > 1 else 0.0


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None

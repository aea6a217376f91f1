"""`gymbox data export`: rollouts -> supervised (SFT) or preference (DPO) training rows.

The rollouts file is read as a stream and grouped by task (`gymbox.task_key`, else `_ng_task_index`).
Per task only what the output needs is kept: the prompt once, and the best rollout (SFT) or the best
and the worst (DPO); memory grows with the number of tasks, not rollouts.

- SFT: the best rollout of each task whose reward is at least `min_reward`:
  `{"messages": prompt + rollout, "tools": [...]}`.
- DPO: per task, the best (chosen) and the worst (rejected) rollout, when the chosen reward is strictly
  higher (a task whose rewards are all equal teaches no preference):
  `{"prompt", "chosen", "rejected", "chosen_reward", "rejected_reward", "tools"}`.

Ties are broken by the lower `_ng_rollout_index` (then file line), not file order: the collector writes
rollouts as they finish, so file order changes from run to run and the repeat index does not.
Only status `ok` counts, and `model_error` on request; infrastructure failures carry no reward and live
in another file anyway. Tasks come out in `_ng_task_index` order. See `gymbox.data.chat` for how items
become chat messages.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from gymbox.data.chat import chat_tools, prompt_messages, rollout_messages
from gymbox.errors import DataError
from gymbox.model_servers.chat_messages import ChatConversionError

ExportFormat = Literal["sft", "dpo"]
DEFAULT_SFT_MIN_REWARD = 1.0


@dataclass
class _Rollout:
    reward: float
    rollout_index: int
    line: int
    output: list[dict[str, Any]]

    def rank(self) -> tuple[int, int]:
        return self.rollout_index, self.line


@dataclass
class _Task:
    task_index: int
    prompt: dict[str, Any]  # instructions, input and tools of responses_create_params
    best: _Rollout
    worst: _Rollout | None  # kept for DPO only


@dataclass
class ExportResult:
    rows: int = 0
    tasks: int = 0
    rollouts_used: int = 0
    skipped: Counter[str] = field(default_factory=Counter)  # rollout lines not used, by reason
    tasks_dropped: Counter[str] = field(default_factory=Counter)  # tasks with no row, by reason


def export(
    rollouts: Path,
    output: Path,
    fmt: ExportFormat,
    *,
    min_reward: float | None = None,
    include_model_errors: bool = False,
) -> ExportResult:
    """Write `output` from `rollouts`; `min_reward` defaults to 1.0 for SFT, none for DPO.

    The file appears only when complete: an error (a rollout that has no chat form) leaves no output.
    """
    if fmt == "sft" and min_reward is None:
        min_reward = DEFAULT_SFT_MIN_REWARD
    statuses = ("ok", "model_error") if include_model_errors else ("ok",)
    result = ExportResult()
    tasks: dict[str, _Task] = {}
    with rollouts.open(encoding="utf-8") as handle:
        for line_no, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            parsed = _parse(text, line_no, statuses)
            if isinstance(parsed, str):
                result.skipped[parsed] += 1
                continue
            result.rollouts_used += 1
            _keep(tasks, *parsed, keep_worst=fmt == "dpo")
    result.tasks = len(tasks)
    kept = []
    for _, task in sorted(tasks.items(), key=lambda item: (item[1].task_index, item[0])):
        reason = _drop_reason(task, fmt, min_reward)
        if reason:
            result.tasks_dropped[reason] += 1
        else:
            kept.append(task)
    result.rows = _write_atomic(output, (_row(task, fmt, rollouts) for task in kept))
    return result


def _parse(text: str, line: int, statuses: tuple[str, ...]) -> tuple[str, int, dict[str, Any], _Rollout] | str:
    """(task key, task index, row, rollout) of a usable line, or why it is skipped."""
    try:
        row = json.loads(text)
    except json.JSONDecodeError:
        return "not JSON (a torn line?)"
    if not isinstance(row, dict):
        return "not a JSON object"
    status = row.get("status", "ok")
    if status not in statuses:
        return f"status {status}"
    reward = row.get("reward")
    if not isinstance(reward, int | float) or isinstance(reward, bool):
        return "no reward"
    output = (row.get("response") or {}).get("output")
    if not isinstance(output, list) or not isinstance(row.get("responses_create_params"), dict):
        return "no responses_create_params or response.output"
    meta = row.get("gymbox")
    meta = meta if isinstance(meta, dict) else {}
    task_index = row.get("_ng_task_index")
    key = meta.get("task_key") or (f"index:{task_index}" if task_index is not None else None)
    if key is None:
        return "no gymbox.task_key or _ng_task_index"
    index = task_index if isinstance(task_index, int) else -1
    repeat = row.get("_ng_rollout_index")
    return str(key), index, row, _Rollout(float(reward), repeat if isinstance(repeat, int) else 0, line, output)


def _keep(
    tasks: dict[str, _Task], key: str, task_index: int, row: dict[str, Any], rollout: _Rollout, *, keep_worst: bool
) -> None:
    """Remember the task's prompt once, and only the best (and for DPO the worst) rollout so far."""
    task = tasks.get(key)
    if task is None:
        params = row["responses_create_params"]
        prompt = {k: params[k] for k in ("instructions", "input", "tools") if k in params}
        tasks[key] = _Task(task_index, prompt, rollout, rollout if keep_worst else None)
        return
    best = task.best
    if rollout.reward > best.reward or (rollout.reward == best.reward and rollout.rank() < best.rank()):
        task.best = rollout
    worst = task.worst
    if worst is not None and (
        rollout.reward < worst.reward or (rollout.reward == worst.reward and rollout.rank() < worst.rank())
    ):
        task.worst = rollout


def _drop_reason(task: _Task, fmt: ExportFormat, min_reward: float | None) -> str | None:
    if min_reward is not None and task.best.reward < min_reward:
        return f"best reward below {min_reward:g}"
    if fmt == "dpo" and task.worst is not None and task.best.reward <= task.worst.reward:
        return "all rewards equal"
    return None


def _row(task: _Task, fmt: ExportFormat, source: Path) -> dict[str, Any]:
    line = task.best.line
    try:
        prompt = prompt_messages(task.prompt)
        tools = chat_tools(task.prompt.get("tools"))
        chosen = rollout_messages(task.best.output)
        if fmt == "sft" or task.worst is None:
            return {"messages": prompt + chosen, "tools": tools}
        line = task.worst.line
        rejected = rollout_messages(task.worst.output)
    except ChatConversionError as exc:
        raise DataError(f"{source}:{line}: {exc}; nothing was written") from None
    return {
        "prompt": prompt,
        "chosen": chosen,
        "rejected": rejected,
        "chosen_reward": task.best.reward,
        "rejected_reward": task.worst.reward,
        "tools": tools,
    }


def _write_atomic(output: Path, rows: Iterator[dict[str, Any]]) -> int:
    """Write rows as they are made (never all in memory), then move the file into place; the row count."""
    output.parent.mkdir(parents=True, exist_ok=True)
    temp = output.with_name(f".{output.name}.tmp")
    count = 0
    try:
        with temp.open("w", encoding="utf-8") as handle:
            for row in rows:
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
                count += 1
        os.replace(temp, output)
    finally:
        temp.unlink(missing_ok=True)
    return count

"""An index of a rollouts file: where each line starts, and a few numbers per row, never the rows.

Indexing reads the file once. Each row leaves its byte offset, task, repeat, status, reward and latency
in flat arrays (about 30 bytes a row) and a tally in its task's `TaskProfile`; a page that shows a
rollout seeks to its offset and parses that one line. The failures file (`<out>_failures.jsonl`) is
indexed the same way, first, so failed rollouts are listed beside scored ones.
"""

from __future__ import annotations

import json
import math
from array import array
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gymbox.collector.profile import RunProfile, TaskProfile, as_dict
from gymbox.collector.store import sibling
from gymbox.errors import GymboxError

ROLLOUTS, FAILURES = 0, 1  # which file a row lives in


@dataclass(frozen=True, slots=True)
class RowSummary:
    """What a table shows of one rollout."""

    row_id: int
    task: str
    repeat: int
    status: str
    reward: float | None
    latency_s: float | None


class RunIndex:
    """One run (a rollouts file and its failures file), indexed for pages that read rows on demand."""

    def __init__(self, path: Path, *, pass_threshold: float = 1.0) -> None:
        self.path = path
        self.name = path.name
        self.failures_path = sibling(path, "failures.jsonl")
        self.profile = RunProfile(pass_threshold)
        self._files = (path, self.failures_path)
        self._offsets = array("q")
        self._file = array("b")
        self._task = array("i")  # the task's position in `tasks`
        self._repeat = array("i")
        self._status = array("i")  # position in `_status_names` (any text a row's `status` holds)
        self._reward = array("d")  # NaN: not scored
        self._latency = array("d")  # NaN: unknown
        self._status_names: list[str] = []
        self._status_ids: dict[str, int] = {}
        self.tasks: list[TaskProfile] = []  # by position: a task's id in pages and URLs
        self.orders: dict[tuple[str, bool], list[TaskProfile]] = {}  # tasks sorted per (sort, descending), cached
        self.skipped_lines = 0
        if not path.is_file():
            raise GymboxError(f"{path}: no such rollouts file; pass a file that `gymbox rollout -o` wrote")
        for file_id in (FAILURES, ROLLOUTS):  # failures first, so a pair scored later clears its failure
            if self._files[file_id].is_file():
                self._scan(file_id, self._files[file_id])
        self.profile.settle()

    def __len__(self) -> int:
        return len(self._offsets)

    # ------------------------------------------------------------------ building

    def _scan(self, file_id: int, file: Path) -> None:
        with file.open("rb") as handle:
            offset = 0
            for line in handle:
                start, offset = offset, offset + len(line)
                try:
                    row = json.loads(line)
                except (json.JSONDecodeError, UnicodeDecodeError):
                    self.skipped_lines += 1  # a line torn by a crash; `gymbox rollout --resume` repairs it
                    continue
                if not isinstance(row, dict):
                    self.skipped_lines += 1
                    continue
                self._add(file_id, start, row)

    def _add(self, file_id: int, offset: int, row: dict[str, Any]) -> None:
        task = self.profile.add(row)
        if task.position == len(self.tasks):
            self.tasks.append(task)
        self._offsets.append(offset)
        self._file.append(file_id)
        self._task.append(task.position)
        repeat = row.get("_ng_rollout_index", 0)
        self._repeat.append(repeat if isinstance(repeat, int) and 0 <= repeat < 1 << 31 else -1)
        self._status.append(self._status_code(str(row.get("status", "ok"))))
        reward = row.get("reward")
        scored = file_id == ROLLOUTS and isinstance(reward, int | float) and not isinstance(reward, bool)
        self._reward.append(float(reward) if scored and isinstance(reward, int | float) else math.nan)
        latency = as_dict(row.get("gymbox")).get("latency_s")
        self._latency.append(float(latency) if isinstance(latency, int | float) else math.nan)

    def _status_code(self, status: str) -> int:
        code = self._status_ids.get(status)
        if code is None:
            code = self._status_ids[status] = len(self._status_names)
            self._status_names.append(status)
        return code

    # ------------------------------------------------------------------ reading

    def task(self, task_id: int) -> TaskProfile:
        return self.tasks[task_id]

    def task_id(self, key: str) -> int | None:
        task = self.profile.tasks.get(key)
        return task.position if task is not None else None

    def task_rows(self, task_id: int) -> list[RowSummary]:
        """The task's rollouts and failures, in repeat order."""
        # A scan of one flat array (milliseconds at 100,000 rows) instead of a list per task.
        rows = [self.summary(row_id) for row_id, owner in enumerate(self._task) if owner == task_id]
        return sorted(rows, key=lambda row: (row.repeat, row.row_id))  # a retried failure beside its repeat

    def summary(self, row_id: int) -> RowSummary:
        reward, latency = self._reward[row_id], self._latency[row_id]
        return RowSummary(
            row_id=row_id,
            task=self.tasks[self._task[row_id]].key,
            repeat=self._repeat[row_id],
            status=self._status_names[self._status[row_id]],
            reward=None if math.isnan(reward) else reward,
            latency_s=None if math.isnan(latency) else latency,
        )

    def task_of(self, row_id: int) -> int:
        return self._task[row_id]

    def read(self, row_id: int) -> dict[str, Any]:
        """The row itself, parsed from disk."""
        if not 0 <= row_id < len(self._offsets):
            raise KeyError(row_id)
        with self._files[self._file[row_id]].open("rb") as handle:
            handle.seek(self._offsets[row_id])
            row: dict[str, Any] = json.loads(handle.readline())
        return row

"""`gymbox metrics` on rollouts written by NeMo Gym itself: no gymbox metadata, maybe no `_ng_*` keys."""

from __future__ import annotations

import json
import statistics
from pathlib import Path

import pytest

from gymbox.collector.metrics import compute_metrics


def _row(prompt: str, reward: float, **fields: object) -> dict[str, object]:
    return {"responses_create_params": {"input": [{"role": "user", "content": prompt}]}, "reward": reward, **fields}


def test_rows_without_task_indices_are_tasks_by_their_request(tmp_path: Path) -> None:
    rows = [_row("a", 1.0, id=7), _row("a", 0.0, id=7), _row("b", 1.0, id=8), _row("c", 0.5, id=9, accuracy=0.25)]
    out = tmp_path / "example_rollouts.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))

    metrics = compute_metrics(out)

    assert metrics["tasks"] == 3  # not one task "-1"
    assert metrics["rollouts"] == 4
    assert metrics["extra_means"] == {"accuracy": 0.25}  # the row's `id` is not a verifier metric
    # The sample standard deviation (n - 1), as NeMo Gym's reward profile reports it.
    assert metrics["std_reward"] == pytest.approx(statistics.stdev([1.0, 0.0, 1.0, 0.5]))


def test_nemo_task_indices_still_key_tasks(tmp_path: Path) -> None:
    rows = [_row("a", 1.0, _ng_task_index=0, _ng_rollout_index=i) for i in range(2)]
    rows.append(_row("a", 0.0, _ng_task_index=1, _ng_rollout_index=0))
    out = tmp_path / "rollouts.jsonl"
    out.write_text("".join(json.dumps(r) + "\n" for r in rows))

    metrics = compute_metrics(out)

    assert metrics["tasks"] == 2
    assert metrics["extra_means"] == {}

"""`POST /aggregate_metrics` answers in NeMo Gym's shape, so NeMo Gym's tools read gymbox environments."""

from __future__ import annotations

import statistics

import pytest

from gymbox.servers.aggregate_metrics import aggregate_metrics


def test_metrics_per_task_and_overall_in_nemo_gyms_shape() -> None:
    responses = [
        {
            "_ng_task_index": 0,
            "_ng_rollout_index": 0,
            "reward": 1.0,
            "correct": True,
            "response": {"usage": {"output_tokens": 10}},
        },
        {
            "_ng_task_index": 0,
            "_ng_rollout_index": 1,
            "reward": 0.0,
            "correct": False,
            "response": {"usage": {"output_tokens": 30}},
        },
        {"_ng_task_index": 1, "_ng_rollout_index": 0, "reward": 0.5, "correct": True, "response": {}},
    ]

    metrics = aggregate_metrics(responses)

    assert set(metrics) == {"group_level_metrics", "agent_metrics", "key_metrics"}
    first, second = metrics["group_level_metrics"]
    assert (first["_ng_task_index"], first["num_rollouts"], first["mean/reward"]) == (0, 2, 0.5)
    assert first["std/reward"] == pytest.approx(statistics.stdev([1.0, 0.0]))  # the sample std, as NeMo's
    assert second["std/reward"] == 0.0  # one value
    agent = metrics["agent_metrics"]
    assert agent["mean/correct"] == pytest.approx(2 / 3)  # booleans count as 0/1
    assert agent["median/output_tokens"] == 20.0  # usage numbers are summarised too
    assert "mean/_ng_task_index" not in agent
    assert metrics["key_metrics"] == {k: v for k, v in agent.items() if k.startswith("mean/")}


def test_no_responses_no_metrics() -> None:
    assert aggregate_metrics([]) == {"group_level_metrics": [], "agent_metrics": {}, "key_metrics": {}}

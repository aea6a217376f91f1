"""`gymbox profile`: per-task signal in the terminal and as JSON, and the task rows worth training on."""

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymbox.cli import app
from gymbox.collector.profile import RunProfile, environment_of
from tests.rollout_rows import failure_row, rollout_row, write_jsonl


def rollouts(tmp_path: Path) -> Path:
    rows = [rollout_row(0, k, 1.0) for k in range(3)]  # always passes
    rows += [rollout_row(1, k, 0.0) for k in range(3)]  # never does
    rows += [rollout_row(2, k, r) for k, r in enumerate((0.0, 1.0, 1.0))]  # the one with a signal
    rows += [rollout_row(3, k, 0.5) for k in range(3)]  # stuck at partial credit
    rows += [rollout_row(4, 0, 0.0)]  # scored once: cannot tell
    path = write_jsonl(tmp_path / "run.jsonl", rows)
    write_jsonl(tmp_path / "run_failures.jsonl", [failure_row(5, 0)])
    return path


def test_json_flags_constant_tasks(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["profile", str(rollouts(tmp_path)), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    flags = {t["task_index"]: t["constant"] for t in report["per_task"]}
    assert flags == {0: True, 1: True, 2: False, 3: True, 4: False, 5: False}
    assert report["constant_tasks"] == {"all_zero": 1, "all_pass": 1, "other": 1}
    task2 = next(t for t in report["per_task"] if t["task_index"] == 2)
    assert task2["mean_reward"] == 2 / 3
    assert abs(task2["variance"] - 2 / 9) < 1e-12
    assert report["failures"] == {"infra_error": 1}
    assert report["pass@1"] == pytest.approx((1 + 0 + 2 / 3 + 0 + 0) / 5)  # only scored tasks


def test_drop_constant_writes_the_task_rows_that_carry_a_signal(tmp_path: Path) -> None:
    out = tmp_path / "kept.jsonl"
    result = CliRunner().invoke(app, ["profile", str(rollouts(tmp_path)), "--drop-constant", str(out)])
    assert result.exit_code == 0, result.output
    kept = [json.loads(line) for line in out.read_text().splitlines()]
    assert [row["id"] for row in kept] == [2, 4]
    assert set(kept[0]) == {"id", "responses_create_params"}  # the task row as it was sent, nothing added
    assert "2 task rows written" in result.output
    assert "3 constant tasks dropped" in result.output


def test_the_table_ranks_by_variance_and_flags_constant_tasks(tmp_path: Path) -> None:
    result = CliRunner().invoke(app, ["profile", str(rollouts(tmp_path))])
    assert result.exit_code == 0, result.output
    assert "constant tasks" in result.output
    assert "3 (1 all 0, 1 all pass)" in result.output
    assert result.output.count("constant: ") == 3


def test_environment_of_an_agent() -> None:
    images = {"math": "gymbox/env-math:1", "math_v07": "gymbox/env-math_v07:1", "agent": "gymbox/runtime:1"}
    assert environment_of("math_v07_simple_agent", images) == "math_v07"  # the longest name that fits
    assert environment_of("solver", {"math": "gymbox/env-math:1"}) == "math"  # the stack's only environment
    assert environment_of("solver", images) == "solver"
    assert environment_of("solver", None) == "solver"


def test_a_bad_reward_type_is_not_a_score() -> None:
    run = RunProfile()
    run.add({**rollout_row(0, 0, 1.0), "reward": True})
    run.add({**rollout_row(0, 1, 1.0), "reward": "1"})
    assert len(run.rewards) == 0
    assert run.tasks["key0.0"].statuses == {"ok": 2}

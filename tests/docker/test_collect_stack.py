"""The collector through real containers: `gymbox up` with the scripted model, `gymbox rollout` on the host."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.docker.conftest import ROOT, gymbox

pytestmark = pytest.mark.docker

EXAMPLES = ("example_single_tool_call", "example_multi_step", "example_session_state_mgmt")
CONFIGS = [str(ROOT / f"environments/{env}/configs/{env}.yaml") for env in EXAMPLES]
# The rows scripted to fail (see each environment's README): row 4 of each.
EXPECTED_TASK_REWARDS = {
    "example_single_tool_call_simple_agent": [1.0, 1.0, 1.0, 1.0, 0.0],
    "example_multi_step_simple_agent": [1.0, 1.0, 1.0, 1.0, 0.0],
    "example_session_state_mgmt_simple_agent": [1.0, 1.0, 1.0, 1.0, 0.0],
}


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_all_examples_in_one_stack_collect_expected_rewards_and_metrics(
    stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    config_args = [arg for cfg in CONFIGS for arg in ("-c", cfg)]
    gymbox("up", *config_args, "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=900)
    # One mixed file, each row stamped with its agent, as NeMo Gym's collector takes it.
    gymbox("data", "prepare", *config_args, "--example", "-o", str(tmp_path), env=gymbox_env)
    out = tmp_path / "rollouts.jsonl"
    gymbox(
        "rollout",
        "--stack",
        stack_name,
        "-i",
        str(tmp_path / "example.jsonl"),
        "-o",
        str(out),
        "--repeats",
        "4",
        env=gymbox_env,
        timeout=300,
    )

    rows = read(out)
    assert len(rows) == 3 * 5 * 4
    assert {r["status"] for r in rows} == {"ok"}
    by_agent: dict[str, dict[int, set[float]]] = {}
    for r in rows:
        agent = r["agent_ref"]["name"]
        assert r["gymbox"]["stack"] == stack_name
        assert r["gymbox"]["images"][agent.removesuffix("_simple_agent")].startswith("gymbox/env-")
        by_agent.setdefault(agent, {}).setdefault(r["id"], set()).add(r["reward"])
    for agent, expected in EXPECTED_TASK_REWARDS.items():
        assert {task_id: rewards for task_id, rewards in by_agent[agent].items()} == {
            i: {reward} for i, reward in enumerate(expected)
        }

    metrics = json.loads((tmp_path / "rollouts_metrics.json").read_text())
    assert metrics["rollouts"] == 60
    assert metrics["tasks"] == 15
    assert metrics["mean_reward"] == pytest.approx(12 / 15)
    assert metrics["pass@4"] == pytest.approx(12 / 15)
    assert metrics["failures"] == {}
    for agent, expected in EXPECTED_TASK_REWARDS.items():
        assert metrics["per_agent"][agent]["mean_reward"] == pytest.approx(sum(expected) / 5)
    assert "set_overlap" in metrics["extra_means"]  # a verifier's extra metric, averaged
    assert "id" not in metrics["extra_means"]  # a task field is not a metric
    # `gymbox metrics` recomputes the same figures from the file
    recomputed = gymbox("metrics", str(out), env=gymbox_env).stdout
    assert "mean_reward" in recomputed
    assert json.loads((tmp_path / "rollouts_metrics.json").read_text())["mean_reward"] == metrics["mean_reward"]


def test_two_releases_of_one_package_serve_side_by_side_in_one_stack(
    stack_name: str, gymbox_env: dict[str, str]
) -> None:
    """math built twice, with math-verify 0.9 (the default) and 0.7 (build_args); each image carries its own."""
    import httpx

    from gymbox.docker.stack import Stack, agent_urls

    configs = [
        "-c",
        str(ROOT / "environments/math/configs/math.yaml"),
        "-c",
        str(ROOT / "environments/math/configs/math_v07.yaml"),
    ]
    gymbox("up", *configs, "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=900)
    urls = agent_urls(Stack(stack_name).containers())
    versions = {}
    for env in ("math", "math_v07"):
        row = read(ROOT / "environments/math/data/example.jsonl")[0]
        result = httpx.post(f"{urls[f'{env}_simple_agent'][0]}/run", json=row, timeout=120).json()
        assert (result["status"], result["reward"]) == ("ok", 1.0)
        versions[env] = result["math_verify_version"]
    assert versions["math"].startswith("0.9.")
    assert versions["math_v07"].startswith("0.7.")


async def test_gymbox_collect_against_a_running_stack(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str], tmp_path: Path
) -> None:
    """The README's Python example: `gymbox.collect` finds the stack's agents and yields typed rollouts."""
    from gymbox import RolloutStatus, collect
    from tests.docker.conftest import WEATHER_CONFIG

    gymbox("up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=900)
    rows = ROOT / "environments/example_single_tool_call/data/example.jsonl"
    out = tmp_path / "rollouts.jsonl"
    got = [r async for r in collect(rows, stack=stack_name, repeats=2, output=out)]
    assert sorted((r.task_index, r.repeat) for r in got) == [(t, k) for t in range(5) for k in range(2)]
    assert {(r.task_index, r.reward) for r in got} == {(0, 1.0), (1, 1.0), (2, 1.0), (3, 1.0), (4, 0.0)}
    assert all(r.status is RolloutStatus.OK and r.record["gymbox"]["stack"] == stack_name for r in got)
    assert len(read(out)) == 10

"""Every environment in one stack: `gymbox up -c environments/*/configs/*.yaml -m scripted`, then every
`example` dataset collected through it.

The configs are globbed, so a new environment joins by existing. Nothing here names an environment or a
row's reward: what each environment must show is read from its config and data. Each one's example rows
are scripted so that the scripted model earns full reward on the happy-path rows and zero on at least one
(see its README); the rollouts and the metrics file must show both, for every environment.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

import pytest

from gymbox.config import load_config
from gymbox.data.datasets import find_datasets
from tests.docker.conftest import ROOT, gymbox

pytestmark = pytest.mark.docker

CONFIGS = sorted(ROOT.glob("environments/*/configs/*.yaml"))
REPEATS = 2  # the scripted model is deterministic: a second repeat only checks that it stays so


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()] if path.exists() else []


def example_rows_by_agent() -> dict[str, tuple[str, int]]:
    """{agent instance: (environment folder, rows in its `example` datasets)}, from the configs."""
    agents: dict[str, tuple[str, int]] = {}
    for dataset in find_datasets(load_config(CONFIGS, model="scripted"), ("example",)):
        environment = dataset.path.resolve().parents[1].name  # environments/<name>/data/example.jsonl
        rows = agents.get(dataset.agent, (environment, 0))[1] + len(read(dataset.path))
        if rows:
            agents[dataset.agent] = (environment, rows)
    return agents


def test_every_environment_in_one_stack_earns_full_and_zero_rewards_on_its_examples(
    stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    agents = example_rows_by_agent()
    environments = {config.parents[1].name for config in CONFIGS}
    assert len(environments) >= 2
    assert {env for env, _ in agents.values()} == environments, "every environment has example rows"

    config_args = [arg for config in CONFIGS for arg in ("-c", str(config))]
    started = time.monotonic()
    gymbox("up", *config_args, "-m", "scripted", "--name", stack_name, "--timeout", "900", env=gymbox_env, timeout=3600)
    up_s = time.monotonic() - started
    gymbox("data", "prepare", *config_args, "--example", "-o", str(tmp_path), env=gymbox_env)
    tasks = read(tmp_path / "example.jsonl")
    assert len(tasks) == sum(rows for _, rows in agents.values())

    out = tmp_path / "rollouts.jsonl"
    started = time.monotonic()
    gymbox(
        "rollout",
        "--stack",
        stack_name,
        "-i",
        str(tmp_path / "example.jsonl"),
        "-o",
        str(out),
        "--repeats",
        str(REPEATS),
        env=gymbox_env,
        timeout=1800,
    )
    rollout_s = time.monotonic() - started
    print(
        f"\n{len(environments)} environments, {len(agents)} agents: up {up_s:.1f} s, "
        f"{len(tasks) * REPEATS} rollouts {rollout_s:.1f} s"
    )

    rows = read(out)
    assert [r["error"] for r in read(tmp_path / "rollouts_rejects.jsonl")] == []
    assert read(tmp_path / "rollouts_failures.jsonl") == []
    assert len(rows) == len(tasks) * REPEATS
    assert {r["status"] for r in rows} == {"ok"}
    images = {tag.partition(":")[0] for tag in rows[0]["gymbox"]["images"].values()}
    assert {f"gymbox/env-{environment}" for environment in environments} <= images  # each in its own image
    seen: dict[str, dict[str, set[float]]] = defaultdict(lambda: defaultdict(set))  # agent -> task -> rewards
    for r in rows:
        agent = r["agent_ref"]["name"]
        assert agent in agents
        assert r["gymbox"]["stack"] == stack_name
        seen[agent][r["gymbox"]["task_key"]].add(float(r["reward"]))
    reward_of: dict[str, float] = {}  # task key -> its reward
    by_environment: dict[str, list[float]] = defaultdict(list)  # environment -> each task's reward
    for agent, (environment, n) in agents.items():
        assert len(seen[agent]) == n, agent
        for task, rewards in seen[agent].items():
            assert len(rewards) == 1, f"{agent} task {task}: the scripted model is deterministic, got {rewards}"
            reward_of[task] = rewards.pop()
            by_environment[environment].append(reward_of[task])
    for environment, rewards in sorted(by_environment.items()):
        assert 1.0 in rewards, f"{environment}: no example row earns full reward: {rewards}"
        assert 0.0 in rewards, f"{environment}: no example row earns zero: {rewards}"

    # The metrics file shows the same: overall, per agent and per task, both full and zero rewards.
    metrics = json.loads((tmp_path / "rollouts_metrics.json").read_text())
    assert metrics["rollouts"] == len(rows)
    assert metrics["tasks"] == len(tasks)
    assert metrics["k"] == REPEATS
    assert metrics["status_counts"] == {"ok": len(rows)}
    assert metrics["failures"] == {}
    assert (metrics["min_reward"], metrics["max_reward"]) == (0.0, 1.0)
    assert 0.0 < metrics["mean_reward"] < 1.0
    assert metrics["mean_reward"] == pytest.approx(sum(reward_of.values()) / len(reward_of))
    assert set(metrics["per_agent"]) == set(agents)
    per_task = {task["task_key"]: task for task in metrics["per_task"]}
    assert {key: task["mean_reward"] for key, task in per_task.items()} == pytest.approx(reward_of)
    assert {task["rollouts"] for task in per_task.values()} == {REPEATS}
    for environment in environments:
        mine = [agent for agent, (env, _) in agents.items() if env == environment]
        means = {task["mean_reward"] for task in per_task.values() if task["agent"] in mine}
        assert {0.0, 1.0} <= means, f"{environment}: per-task means {sorted(means)}"
        per_agent = [metrics["per_agent"][agent] for agent in mine]
        assert sum(a["rollouts"] for a in per_agent) == len(by_environment[environment]) * REPEATS
        mean = sum(a["mean_reward"] * a["rollouts"] for a in per_agent) / sum(a["rollouts"] for a in per_agent)
        assert 0.0 < mean < 1.0, f"{environment}: per-agent mean reward {mean}"

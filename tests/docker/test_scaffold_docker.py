"""`gymbox build-env`, then Docker, with nothing touched by hand: the new environment's image builds, its
tests pass inside it (`gymbox test-env`), and a stack of it with the scripted model earns, row by row, the
rewards its example data promises. The environment lives in a temp folder, found through
GYMBOX_ENVIRONMENTS_DIR as any environment outside ./environments is.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.docker.conftest import gymbox, leftovers

pytestmark = pytest.mark.docker

NAME = "scaffolded_quiz"
# What `gymbox build-env` promises of its example rows: 0-2 answer right, 3-4 answer wrong.
EXPECTED_REWARDS = {0: 1.0, 1: 1.0, 2: 1.0, 3: 0.0, 4: 0.0}


def test_a_scaffolded_environment_builds_passes_its_tests_and_collects_its_rewards(
    tmp_path: Path, gymbox_env: dict[str, str], stack_name: str
) -> None:
    envs = tmp_path / "envs"
    env = dict(gymbox_env, GYMBOX_ENVIRONMENTS_DIR=str(envs))
    created = gymbox("build-env", NAME, "--tool", "search", "--tool", "fetch", "--dir", str(envs), env=env)
    assert f"gymbox test-env {NAME}" in created.stdout
    env_dir = envs / NAME

    tested = gymbox("test-env", NAME, env=env, check=False)
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert " passed" in tested.stdout
    assert "failed" not in tested.stdout

    config = env_dir / "configs" / f"{NAME}.yaml"
    output = tmp_path / "rollouts.jsonl"
    try:
        up = gymbox(
            "up", "-c", str(config), "-m", "scripted", "--name", stack_name, "--timeout", "120", env=env, check=False
        )
        assert up.returncode == 0, up.stdout + up.stderr
        gymbox(
            "rollout",
            "--stack",
            stack_name,
            "--agent",
            f"{NAME}_simple_agent",
            "-i",
            str(env_dir / "data" / "example.jsonl"),
            "-o",
            str(output),
            env=env,
        )
    finally:
        gymbox("down", "--name", stack_name, env=env, timeout=120)
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}

    rollouts = [json.loads(line) for line in output.read_text().splitlines()]
    assert {row["id"]: row["status"] for row in rollouts} == dict.fromkeys(EXPECTED_REWARDS, "ok")
    assert {row["id"]: row["reward"] for row in rollouts} == EXPECTED_REWARDS
    for row in rollouts:  # every tool was called, for real, in the environment's container
        calls = [item["name"] for item in row["response"]["output"] if item["type"] == "function_call"]
        assert sorted(set(calls)) == ["fetch", "search"], row["id"]

"""The stack commands through the real CLI on a real engine: `up`'s progress and --json, the project name
plain compose reads, the one-stack rule (`ps`, `rollout`, `down` without --name), `images prune --dry-run`."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.docker.conftest import ROOT, WEATHER_AGENT, WEATHER_CONFIG, gymbox, leftovers

pytestmark = pytest.mark.docker

WEATHER_ROWS = ROOT / "environments/example_single_tool_call/data/example.jsonl"


def _here(gymbox_env: dict[str, str], compose: Path) -> dict[str, str]:
    """The environment of a user whose directory renders stacks into `compose`."""
    return {**gymbox_env, "GYMBOX_COMPOSE_DIR": str(compose)}


def test_up_shows_progress_and_the_commands_find_the_stack_made_here(
    tmp_path: Path, gymbox_env: dict[str, str], stack_name: str
) -> None:
    mine = _here(gymbox_env, tmp_path / "compose")
    up = gymbox("up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack_name, "--json", env=mine)
    document = json.loads(up.stdout)
    assert document["name"] == stack_name
    assert document["agents"][WEATHER_AGENT][0].startswith("http://127.0.0.1:")
    # Not a terminal: plain lines, each with the time elapsed, one per service state change.
    assert f"starting stack {stack_name} (3 services)" in up.stderr
    assert f"] {WEATHER_AGENT}: healthy" in up.stderr
    assert f"stack {stack_name} healthy in" in up.stderr

    # Plain compose finds the project: its name is in the .env beside the compose file.
    folder = tmp_path / "compose" / stack_name
    assert f"COMPOSE_PROJECT_NAME=gymbox-{stack_name}" in (folder / ".env").read_text()
    plain = subprocess.run(
        ["docker-compose", "-f", str(folder / "docker-compose.yaml"), "ps", "-q"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert len(plain.stdout.split()) == 3

    # Without --name, `ps` and `rollout` mean the one stack made from this directory.
    ps = json.loads(gymbox("ps", "--json", env=mine).stdout)
    assert [s["name"] for s in ps] == [stack_name]
    out = tmp_path / "rollouts.jsonl"
    rollout = gymbox("rollout", "-a", WEATHER_AGENT, "-i", str(WEATHER_ROWS), "-o", str(out), "--json", env=mine)
    assert json.loads(rollout.stdout)["written"] == len(WEATHER_ROWS.read_text().splitlines())

    # Another directory's `down` refuses to guess, and the stack keeps running.
    theirs = _here(gymbox_env, tmp_path / "elsewhere" / "compose")
    refused = gymbox("down", env=theirs, check=False)
    assert refused.returncode == 1
    assert "no stack on this engine was made from this directory" in refused.stderr
    assert leftovers(stack_name)["containers"]

    assert gymbox("down", env=mine).returncode == 0
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_images_prune_dry_run_lists_only_this_checkouts_images(gymbox_env: dict[str, str]) -> None:
    from gymbox.docker.client import docker
    from gymbox.docker.images import CHECKOUT_LABEL, image_exists, source_root

    result = gymbox("images", "prune", "--dry-run", "--json", env=gymbox_env)
    listed = json.loads(result.stdout)
    assert listed["dry_run"] is True
    label = '{{index .Config.Labels "' + CHECKOUT_LABEL + '"}}'
    for tag in listed["images"]:
        assert docker("image", "inspect", "--format", label, tag).stdout.strip() == str(source_root())
        assert image_exists(tag)  # listed, not removed

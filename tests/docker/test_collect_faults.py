"""Faults in the middle of `gymbox rollout` against a real stack (scripted model): a restarted resources
container, a restarted agent (on a new published port), a stopped replica. However the run is disturbed,
every (task, repeat) pair ends as a rollout with its real reward or as a failure with its cause; none is
lost, none is duplicated, and no lost session is ever scored as a zero."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from tests.docker.conftest import ROOT, WEATHER_AGENT, WEATHER_CONFIG, WEATHER_ENV, gymbox

pytestmark = pytest.mark.docker

STATE_ENV = "example_session_state_mgmt"
STATE_CONFIG = ROOT / f"environments/{STATE_ENV}/configs/{STATE_ENV}.yaml"
ROWS = 200  # per test: enough to be mid-run when the fault lands, few enough for a loaded 2-core host
FAULT_AFTER = 20  # rollouts on disk before the fault


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def numbered_rows(env: str, path: Path) -> list[float]:
    """ROWS copies of the environment's 5 examples, each with an `id`; the reward each should earn (row 4
    of every example set is scripted to fail)."""
    examples = read(ROOT / f"environments/{env}/data/example.jsonl")
    path.write_text("".join(json.dumps({**examples[i % 5], "id": i}) + "\n" for i in range(ROWS)))
    return [0.0 if i % 5 == 4 else 1.0 for i in range(ROWS)]


def collect_through(
    fault: Callable[[], None], stack: str, agent: str, rows: Path, out: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    """`gymbox rollout` in the background; `fault()` once FAULT_AFTER rollouts are on disk."""
    argv = [str(Path(sys.executable).parent / "gymbox"), "rollout", "--stack", stack, "--agent", agent]
    argv += ["-i", str(rows), "-o", str(out), "-j", "4", "--max-attempts", "10", "--timeout", "60"]
    argv += ["--max-failures", "1.0"]  # a pair may fail (infra kind) under a fault; the checks below say which
    collector = subprocess.Popen(argv, env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 180
        while len(read(out)) < FAULT_AFTER:
            assert collector.poll() is None, collector.communicate()
            assert time.monotonic() < deadline, "the collector wrote too little before the fault"
            time.sleep(0.05)
        fault()
        assert len(read(out)) < ROWS, "the run ended before the fault landed"
        stdout, stderr = collector.communicate(timeout=420)
    finally:
        if collector.poll() is None:
            collector.kill()
            collector.wait()
    return subprocess.CompletedProcess(argv, collector.returncode, stdout, stderr)


def assert_every_pair_accounted_for(out: Path, expected: list[float]) -> list[dict]:
    """Each row is scored once with the reward it earns, or failed with an infra kind; the scored rows."""
    scored = read(out)
    ids = [r["id"] for r in scored]
    assert len(ids) == len(set(ids)), "a row was scored twice"
    for r in scored:
        assert r["status"] == "ok"
        assert r["reward"] == expected[r["id"]], f"row {r['id']}: reward {r['reward']} (a lost session scored?)"
    failures = read(out.with_name(f"{out.stem}_failures.jsonl"))
    for f in failures:
        assert f["status"] in ("infra_error", "timeout")
        assert f["failure"] in (
            "unreachable",
            "connect_timeout",
            "disconnected",
            "timeout",
            "server_error",
            "session_lost",
        )
        assert f["error"]
    failed_ids = {f["line"] - 1 for f in failures}
    assert set(ids) | failed_ids == set(range(len(expected)))
    assert not set(ids) & failed_ids
    return scored


def test_a_resources_container_restarting_mid_run_scores_no_lost_session(
    stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    from gymbox.docker.client import docker
    from gymbox.docker.stack import Stack

    gymbox("up", "-c", str(STATE_CONFIG), "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=900)
    expected = numbered_rows(STATE_ENV, tmp_path / "rows.jsonl")
    resources = next(c for c in Stack(stack_name).containers() if c.instance == STATE_ENV)
    out = tmp_path / "out.jsonl"

    def restart_resources() -> None:  # every episode in flight loses its session
        docker("restart", "--time", "1", resources.id, timeout=120)

    done = collect_through(
        restart_resources, stack_name, f"{STATE_ENV}_simple_agent", tmp_path / "rows.jsonl", out, gymbox_env
    )
    assert done.returncode == 0, done.stderr
    assert_every_pair_accounted_for(out, expected)


def test_an_agent_restarted_on_a_new_port_is_found_again(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str], tmp_path: Path
) -> None:
    from gymbox.docker.client import docker
    from gymbox.docker.stack import Stack, agent_urls

    gymbox("up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=900)
    expected = numbered_rows(WEATHER_ENV, tmp_path / "rows.jsonl")
    stack = Stack(stack_name)
    [old_url] = agent_urls(stack.containers())[WEATHER_AGENT]
    agent = next(c for c in stack.containers() if c.instance == WEATHER_AGENT)
    out = tmp_path / "out.jsonl"

    def restart_agent() -> None:
        docker("restart", "--time", "1", agent.id, timeout=120)

    # Published ports: a restart moves those (a container's own address usually stays the same).
    env = {**gymbox_env, "GYMBOX_AGENT_ADDRESSES": "published"}
    done = collect_through(restart_agent, stack_name, WEATHER_AGENT, tmp_path / "rows.jsonl", out, env)
    assert done.returncode == 0, done.stderr
    [new_url] = agent_urls(stack.containers())[WEATHER_AGENT]
    assert new_url != old_url, "Docker gave the restarted agent its old port: nothing to find again"
    scored = assert_every_pair_accounted_for(out, expected)
    assert len(scored) == ROWS  # the collector found the agent's new port and finished the run
    assert {r["gymbox"]["url"] for r in scored} == {old_url, new_url}


def test_a_stopped_replica_does_not_stall_the_run(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str], tmp_path: Path
) -> None:
    from gymbox.docker.client import docker
    from gymbox.docker.stack import Stack

    fields = ("responses_api_agents.simple_agent", "resources_servers.example_single_tool_call")
    instances = (WEATHER_AGENT, WEATHER_ENV)
    sets = [arg for inst, role in zip(instances, fields, strict=True) for arg in ("--set", f"{inst}.{role}.replicas=2")]
    gymbox("up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack_name, *sets, env=gymbox_env, timeout=900)
    expected = numbered_rows(WEATHER_ENV, tmp_path / "rows.jsonl")
    containers = Stack(stack_name).containers()
    # One replica of the agent and one of the environment stop for good (no restart: `docker stop`).
    victims = [next(c for c in containers if c.instance == name and c.number == 2) for name in instances]
    out = tmp_path / "out.jsonl"

    def stop_replicas() -> None:
        docker("stop", "--time", "1", *[c.id for c in victims], timeout=120)

    done = collect_through(stop_replicas, stack_name, WEATHER_AGENT, tmp_path / "rows.jsonl", out, gymbox_env)
    assert done.returncode == 0, done.stderr
    scored = assert_every_pair_accounted_for(out, expected)
    assert len(scored) == ROWS  # the run went on with the replicas left

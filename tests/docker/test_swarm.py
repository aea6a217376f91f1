"""A real 3-node Docker Swarm on this machine (a manager and two workers, each its own engine in a container),
driven through the CLI as a user would: push, up --engine swarm, rollout, a worker lost mid-collection,
resume, down. Slow (each node pulls the images into its own engine): one module-scoped lab serves it all."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.docker.conftest import ROOT, WEATHER_AGENT, WEATHER_CONFIG, WEATHER_ENV, gymbox

pytestmark = pytest.mark.docker

ROWS, REPEATS = 500, 4  # 2,000 rollouts a run
REPLICAS = 3
EXAMPLES = ROOT / "environments/example_single_tool_call/data/example.jsonl"
FAILING_EXAMPLE = 4  # example row 4 is scripted to ignore the tool: a real 0.0 (see the environment README)


@pytest.fixture(scope="module")
def lab() -> Iterator[Any]:
    from gymbox.docker.images import BuildOptions, resolve_ca_bundle
    from gymbox.docker.swarm_lab import SwarmLab

    with SwarmLab(
        f"lab-{uuid.uuid4().hex[:6]}", nodes=3, options=BuildOptions(ca_bundle=resolve_ca_bundle(None))
    ) as swarm:
        yield swarm
    from gymbox.docker import client

    label = f"label=gymbox.lab={swarm.name}"
    # The nodes, the registry, their network and any volume: all gone.
    assert client.docker("container", "ls", "--all", "--quiet", "--filter", label).stdout.split() == []
    assert client.docker("network", "ls", "--quiet", "--filter", label).stdout.split() == []
    assert client.docker("volume", "ls", "--quiet", "--filter", label).stdout.split() == []


@pytest.fixture(scope="module")
def swarm_stack(lab: Any, tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, dict[str, str]]]:
    import os

    env = dict(os.environ, GYMBOX_COMPOSE_DIR=str(tmp_path_factory.mktemp("compose")), GYMBOX_SWARM_HOST=lab.manager)
    env.pop("GYMBOX_ENVIRONMENTS_DIR", None)
    name = f"sw-{uuid.uuid4().hex[:6]}"
    replicas = [
        f"{WEATHER_ENV}.resources_servers.{WEATHER_ENV}.replicas={REPLICAS}",
        f"{WEATHER_AGENT}.responses_api_agents.simple_agent.replicas={REPLICAS}",
    ]
    sets = [arg for item in replicas for arg in ("--set", item)]
    gymbox(
        "up", "-c", str(WEATHER_CONFIG), "-m", "scripted", *sets, "--name", name,
        "--engine", "swarm", "--registry", lab.registry, "--timeout", "1200", env=env, timeout=1800,
    )  # fmt: skip
    yield name, env
    gymbox("down", "--engine", "swarm", "--name", name, env=env, timeout=600)
    services = lab.node_docker(0, "service", "ls", "--quiet", "--filter", f"label=com.docker.stack.namespace={name}")
    assert services.split() == []


def _rows(path: Path) -> Path:
    examples = EXAMPLES.read_text().splitlines()
    with path.open("w") as out:
        for i in range(ROWS):
            out.write(json.dumps({**json.loads(examples[i % len(examples)]), "row_id": i}) + "\n")
    return path


def _read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def _pair(row: dict[str, Any]) -> tuple[int, int]:
    return row["row_id"], row["_ng_rollout_index"]


def _assert_real_rewards(rows: list[dict[str, Any]]) -> None:
    for row in rows:
        expected = 0.0 if row["row_id"] % 5 == FAILING_EXAMPLE else 1.0
        assert (row["status"], row["reward"]) == ("ok", expected), row["gymbox"]


def _rollout(env: dict[str, str], stack: str, rows: Path, out: Path, *extra: str) -> list[str]:
    return [
        str(Path(sys.executable).parent / "gymbox"), "rollout", "--engine", "swarm", "--stack", stack,
        "--agent", WEATHER_AGENT, "-i", str(rows), "-o", str(out), "--repeats", str(REPEATS),
        "--concurrency", "64", "--timeout", "30", "--max-failures", "1.0", *extra,
    ]  # fmt: skip


def test_replicas_spread_over_nodes_and_2000_rollouts_collect(
    lab: Any, swarm_stack: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = swarm_stack
    for service in (WEATHER_ENV, WEATHER_AGENT):
        nodes = lab.node_docker(
            0, "service", "ps", f"{stack}_{service}", "--filter", "desired-state=running", "--format", "{{.Node}}"
        ).split()
        assert len(nodes) == REPLICAS
        assert len(set(nodes)) >= 2, f"{service} landed on {nodes}"

    out = tmp_path / "rollouts.jsonl"
    result = subprocess.run(
        _rollout(env, stack, _rows(tmp_path / "rows.jsonl"), out), env=env, capture_output=True, text=True, timeout=900
    )
    assert result.returncode == 0, result.stdout + result.stderr
    rows = _read(out)
    assert len(rows) == ROWS * REPEATS
    assert len({_pair(r) for r in rows}) == ROWS * REPEATS
    _assert_real_rewards(rows)
    # The work really went to every node: agent replicas answer at each node's address.
    assert len({r["gymbox"]["url"].split("//")[1].split(":")[0] for r in rows}) == REPLICAS


def test_a_worker_lost_mid_collection_loses_and_duplicates_nothing(
    lab: Any, swarm_stack: tuple[str, dict[str, str]], tmp_path: Path
) -> None:
    stack, env = swarm_stack
    rows_file, out = _rows(tmp_path / "rows.jsonl"), tmp_path / "rollouts.jsonl"
    proc = subprocess.Popen(
        _rollout(env, stack, rows_file, out), env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
    )
    try:
        deadline = time.monotonic() + 300
        while len(_read(out)) < ROWS * REPEATS // 5 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.2)
        lab.kill_node(2)  # a worker: the manager keeps the swarm
        output, _ = proc.communicate(timeout=900)
    finally:
        proc.kill()
    assert proc.returncode in (0, 3), output  # 3: some rollouts failed (reported, within --max-failures)

    rollouts = _read(out)
    failures = _read(out.with_name("rollouts_failures.jsonl"))
    done = [_pair(r) for r in rollouts]
    failed = {(f["line"] - 1, f["_ng_rollout_index"]) for f in failures}
    assert len(done) == len(set(done))  # nothing twice
    assert set(done) | failed == {(i, k) for i in range(ROWS) for k in range(REPEATS)}  # nothing lost
    assert not set(done) & failed
    assert {f["status"] for f in failures} <= {"infra_error", "timeout"}
    _assert_real_rewards(rollouts)  # a rollout the lost node broke never shows up as a zero

    resumed = subprocess.run(
        _rollout(env, stack, rows_file, out, "--resume"), env=env, capture_output=True, text=True, timeout=900
    )
    assert resumed.returncode == 0, resumed.stdout + resumed.stderr
    rollouts = _read(out)
    assert sorted(_pair(r) for r in rollouts) == sorted((i, k) for i in range(ROWS) for k in range(REPEATS))
    _assert_real_rewards(rollouts)

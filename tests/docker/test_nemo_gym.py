"""NeMo Gym's own servers, unchanged, in gymbox stacks: a NeMo Gym config used as is, and a representative
few servers of nemo-gym 0.4.0 replaying their recorded rollouts to the same rewards.

`benchmarks/nemo_replay_all.py` runs every server of the release (README: "NeMo Gym environments").
The nemo-gym layer image (about 5 minutes to build cold on 2 cores) is built once and shared by both.
"""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.docker.conftest import gymbox, leftovers, up_nemo_stack

pytestmark = pytest.mark.docker
VERSION = "0.4.0"
# Tools with session state, multi-step tool calls, multi-turn rows with its own requirements, a verifier
# with its own requirements (tiktoken), an LLM judge played back from the recorded calls.
REPRESENTATIVE = ("example_session_state_mgmt", "example_multi_step", "calendar", "mcqa", "equivalence_llm_judge")


@pytest.fixture(scope="module")
def release() -> Path:
    from gymbox.nemo.release import release_root

    return release_root(VERSION)


def test_a_nemo_gym_config_comes_up_unchanged(stack_name: str, gymbox_env: dict[str, str], release: Path) -> None:
    from gymbox.docker.stack import Stack, agent_urls

    server = release / "resources_servers" / "example_single_tool_call"
    config = server / "configs" / "example_single_tool_call.yaml"
    up_nemo_stack(config, stack_name, gymbox_env)

    containers = Stack(stack_name).containers()
    images = {c.instance: c.config.image for c in containers}
    assert images["example_single_tool_call"].startswith("gymbox/nemo-example_single_tool_call:")
    assert "nemo_ray_0_4_0" in images  # the one Ray head its NeMo servers share
    (url,) = agent_urls(containers)["example_single_tool_call_simple_agent"]
    row = json.loads((server / "data" / "example.jsonl").read_text().splitlines()[0])
    result = httpx.post(f"{url}/run", json=row, timeout=120)
    assert result.status_code == 200, result.text
    assert result.json()["status"] == "ok"
    assert result.json()["reward"] == 1.0  # NeMo's own verify: this example rewards every answer

    gymbox("down", "--name", stack_name, env=gymbox_env, timeout=300)
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_nemo_gym_servers_reproduce_their_recorded_rewards(
    tmp_path: Path, gymbox_env: dict[str, str], monkeypatch: pytest.MonkeyPatch, stack_name: str
) -> None:
    from gymbox.nemo.conformance import run_release

    monkeypatch.setenv("GYMBOX_COMPOSE_DIR", gymbox_env["GYMBOX_COMPOSE_DIR"])
    results = run_release(
        VERSION, tmp_path, names=list(REPRESENTATIVE), batch_size=len(REPRESENTATIVE), stack_prefix=stack_name
    )

    by_name = {r.name: r for r in results}
    assert set(by_name) == set(REPRESENTATIVE)
    assert by_name["equivalence_llm_judge"].judged == "calls"  # its judge_model_server reached replay_model
    for result in results:
        assert result.built, result
        assert result.healthy, result
        assert result.rows > 0, result
        assert result.matched == result.rows, result
    assert leftovers(f"{stack_name}-0") == {"containers": [], "networks": [], "volumes": []}


def test_the_readme_table_skips_the_servers_the_harness_skips(release: Path) -> None:
    """The README's table of the full run says which servers were not built and why; the harness decides
    that before it builds anything, so a change to its rules must show in the table."""
    from gymbox.nemo.conformance import release_cases

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    rows = {}
    for line in readme.split("| server | built | healthy |", 1)[1].split("\n\n", 1)[0].splitlines()[2:]:
        name, built, healthy, *_, reason = (cell.strip() for cell in line.strip("|").split("|"))
        rows[name.strip("`")] = (built, healthy, reason)

    cases = release_cases(VERSION)
    assert set(rows) == {case.name for case in cases}
    for case in cases:
        built, _healthy, reason = rows[case.name]
        assert (built == "-") == bool(case.skip), (case.name, case.skip, rows[case.name])
        if case.skip:
            assert reason == case.skip, case.name
    built_count = sum(row[0] == "yes" for row in rows.values())
    healthy_count = sum(row[1] == "yes" for row in rows.values())
    assert f"Of {len(rows)} servers: {built_count} built, {healthy_count} healthy" in readme

"""NeMo Gym's own client against a gymbox stack: `ng_collect_rollouts`, unchanged, on the host side
(`--network host`), through the stack's NeMo head server, driving NeMo's own simple_agent and openai_model
in front of a gymbox environment and gymbox's scripted policy (a test double of an LLM).

The same rows also go through gymbox's agent and collector (`gymbox rollout`): an episode with a tool
call the environment rejects (4xx) must score the same both ways, which needs the environment's session
cookie on its error answers, since NeMo's agent replaces its cookies with each tool answer's.

Cold, the nemo-gym layer image takes about 5 minutes to build once (shared with test_nemo_gym.py).
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.cli_helpers import free_port
from tests.docker.conftest import ROOT, gymbox, leftovers, up_nemo_stack

pytestmark = pytest.mark.docker
VERSION = "0.4.0"
ENV = "example_session_state_mgmt"
SECRET = "sk-test-double-not-a-real-key"
BAD = {"name": "increment_counter", "arguments": {"count": "five"}}  # not an int: the tool answers 422


def row(initial: int, expected: int, script: list[dict[str, Any]]) -> dict[str, Any]:
    """A counter task whose model turns come from the row (scripted_model's `gymbox_script`)."""
    example = json.loads((ROOT / "environments" / ENV / "data" / "example.jsonl").read_text().splitlines()[0])
    params = {
        "input": [{"role": "user", "content": f"Add to the counter, which starts at {initial}."}],
        "tools": example["responses_create_params"]["tools"],
        "metadata": {"gymbox_script": json.dumps(script)},
    }
    return {"responses_create_params": params, "initial_count": initial, "expected_count": expected}


ROWS = [  # told apart by initial_count
    # rejected, then a good call: the episode (its session) survives the 4xx, reward 1.0
    row(2, 7, [{"calls": [BAD]}, {"calls": [{"name": "increment_counter", "arguments": {"count": 5}}]}, {"say": "7"}]),
    # only the rejected call: the count never moves, reward 0.0
    row(10, 15, [{"calls": [BAD]}, {"say": "done"}]),
    row(0, 3, [{"calls": [{"name": "increment_counter", "arguments": {"count": 3}}]}, {"say": "3"}]),
]
EXPECTED = {2: 1.0, 10: 0.0, 0: 1.0}


def stack_config(agent_port: int, head_port: int) -> dict[str, Any]:
    refs = {"resources_server": {"type": "resources_servers", "name": "counter"}, "max_steps": 6}
    nemo = {"version": VERSION}
    return {
        "counter": {"resources_servers": {ENV: {}}},
        "nemo_model": {
            "responses_api_models": {
                "openai_model": {
                    "nemo_gym": nemo,
                    "openai_base_url": "http://policy_model:8000/v1",  # gymbox's scripted_model (-m scripted)
                    "openai_api_key": SECRET,
                    "openai_model": "gymbox-scripted",
                }
            }
        },
        "nemo_agent": {
            "responses_api_agents": {
                "simple_agent": {
                    "nemo_gym": nemo,
                    "port": agent_port,
                    **refs,
                    "model_server": {"type": "responses_api_models", "name": "nemo_model"},
                }
            }
        },
        "gymbox_agent": {
            "responses_api_agents": {
                "simple_agent": {**refs, "model_server": {"type": "responses_api_models", "name": "policy_model"}}
            }
        },
        "head_server": {"port": head_port},
    }


def read(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def layer_image() -> str:
    from gymbox.docker.images import BuildOptions, resolve_ca_bundle
    from gymbox.nemo.images import layer_spec

    return layer_spec(VERSION, BuildOptions(ca_bundle=resolve_ca_bundle(None))).tag


def test_ng_collect_rollouts_against_a_gymbox_stack_scores_as_gymboxs_collector(
    stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    agent_port, head_port = free_port(), free_port()
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump(stack_config(agent_port, head_port), sort_keys=False))
    (tmp_path / "rows.jsonl").write_text("".join(json.dumps(r) + "\n" for r in ROWS))
    tmp_path.chmod(0o777)  # ng_collect_rollouts runs as the image's user 10001

    up = up_nemo_stack(config, stack_name, gymbox_env)
    assert f"http://127.0.0.1:{head_port}" in up.stdout  # where the head listens
    stack_dir = Path(gymbox_env["GYMBOX_COMPOSE_DIR"]) / stack_name
    for rendered in ("docker-compose.yaml", "stack.yaml"):
        assert SECRET not in (stack_dir / rendered).read_text()

    # NeMo's path: its client on the host, the head's dict, NeMo's agent and model server.
    nemo = subprocess.run(
        [
            "docker", "run", "--rm", "--network", "host", "-v", f"{tmp_path}:/data", "-w", "/data", layer_image(),
            "ng_collect_rollouts", "+agent_name=nemo_agent", "+input_jsonl_fpath=/data/rows.jsonl",
            "+output_jsonl_fpath=/data/nemo.jsonl", "+head_server.host=127.0.0.1", f"+head_server.port={head_port}",
        ],
        capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert nemo.returncode == 0, nemo.stdout[-3000:] + nemo.stderr[-3000:]
    # gymbox's path: its collector and agent, the same rows.
    gymbox(
        "rollout", "--stack", stack_name, "--agent", "gymbox_agent", "-i", str(tmp_path / "rows.jsonl"),
        "-o", str(tmp_path / "gymbox.jsonl"), env=gymbox_env, timeout=300,
    )  # fmt: skip

    nemo_rows, gymbox_rows = read(tmp_path / "nemo.jsonl"), read(tmp_path / "gymbox.jsonl")
    nemo_rewards = {r["initial_count"]: r["reward"] for r in nemo_rows}
    assert nemo_rewards == EXPECTED
    assert {r["initial_count"]: r["reward"] for r in gymbox_rows} == nemo_rewards
    rejected = next(r for r in nemo_rows if r["initial_count"] == 2)
    outputs = [i["output"] for i in rejected["response"]["output"] if i["type"] == "function_call_output"]
    assert "error" in outputs[0].lower()  # the environment did reject the first call
    assert '"count":7' in outputs[1].replace(" ", "")  # and the episode went on in the same session

    # NeMo's aggregation of the run, through the agent's /aggregate_metrics.
    (entry,) = json.loads((tmp_path / "nemo_aggregate_metrics.json").read_text())
    assert entry["agent_ref"]["name"] == "nemo_agent"
    assert entry["agent_metrics"]
    assert any("reward" in key for key in entry["agent_metrics"])
    assert "Key metrics for nemo_agent" in nemo.stdout

    # A second stack of the same config asks for the same fixed ports: `up` refuses before starting anything.
    second = f"{stack_name}-2"
    again = gymbox("up", "-c", str(config), "-m", "scripted", "--name", second, env=gymbox_env, check=False)
    assert again.returncode != 0
    assert f"of stack {stack_name!r} holds; stop that, or move this one with `--set" in again.stdout + again.stderr
    assert leftovers(second) == {"containers": [], "networks": [], "volumes": []}

    gymbox("down", "--name", stack_name, env=gymbox_env, timeout=300)
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}

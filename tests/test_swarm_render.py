"""The Docker Swarm stack file (`gymbox up --engine swarm`), checked without Docker."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.images import StackImages, environments_of
from gymbox.docker.render import render
from gymbox.docker.swarm import GPU_CONSTRAINT, SWARM_FILE, load_mounted_secrets, write_stack_file

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
CODE_EXEC = ROOT / "environments/code_exec/configs/code_exec.yaml"
AGENT = "example_single_tool_call_simple_agent"
ENV = "example_single_tool_call"


@pytest.fixture(autouse=True)
def _no_local_env_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # load_config reads ./env.yaml


def _stack(tmp_path: Path, configs: list[Path], model: str = "scripted", sets: tuple[str, ...] = ()) -> dict[str, Any]:
    config = load_config(configs, model=model, sets=list(sets))
    images = StackImages(
        "reg:5000/gymbox/runtime:000000000000",
        {env: f"reg:5000/gymbox/env-{env}:111111111111" for env in environments_of(config)},
    )
    path = write_stack_file(render(config, "sw", images, root=tmp_path))
    document: dict[str, Any] = yaml.safe_load(path.read_text())
    return document


def test_every_service_resolves_to_its_tasks_and_only_agents_publish(tmp_path: Path) -> None:
    services = _stack(tmp_path, [WEATHER], sets=(f"{ENV}.resources_servers.{ENV}.replicas=3",))["services"]
    assert set(services) == {"policy_model", ENV, AGENT}
    for name, svc in services.items():
        # dnsrr: the name answers every task, so an agent can pin an episode to one environment task.
        assert svc["deploy"]["endpoint_mode"] == "dnsrr"
        assert svc["networks"]["default"]["aliases"] == [name]
        assert svc["configs"] == [{"source": "stack_config", "target": "/etc/gymbox/stack.yaml", "mode": 0o444}]
    assert services[ENV]["deploy"]["replicas"] == 3
    assert services[AGENT]["ports"] == [{"target": 8000, "protocol": "tcp", "mode": "host"}]
    assert "ports" not in services[ENV]
    assert "ports" not in services["policy_model"]
    assert services[AGENT]["image"] == "reg:5000/gymbox/runtime:000000000000"
    assert services[AGENT]["healthcheck"]["test"][0] == "CMD"


def test_limits_are_reserved_and_placement_comes_from_the_config(tmp_path: Path) -> None:
    sets = (
        f"{ENV}.resources_servers.{ENV}.cpus=1.5",
        f"{ENV}.resources_servers.{ENV}.memory=512m",
        f'{ENV}.resources_servers.{ENV}.placement=["node.labels.zone == a"]',
    )
    deploy = _stack(tmp_path, [WEATHER], sets=sets)["services"][ENV]["deploy"]
    assert deploy["resources"]["limits"] == {"cpus": "1.5", "memory": "512m"}
    assert deploy["resources"]["reservations"] == {"cpus": "1.5", "memory": "512m"}
    assert deploy["placement"]["constraints"] == ["node.labels.zone == a"]
    assert deploy["update_config"]["order"] == "start-first"


def test_secrets_are_swarm_secrets_of_the_model_server_only(tmp_path: Path) -> None:
    document = _stack(
        tmp_path,
        [WEATHER],
        model="openai",
        sets=("policy_base_url=http://llm:8000/v1", "policy_api_key=sk-secret-value-0123456789", "policy_model_name=m"),
    )
    text = (tmp_path / "sw" / SWARM_FILE).read_text()
    assert "sk-secret-value-0123456789" not in text
    (name,) = document["secrets"]
    assert document["secrets"][name]["external"] is True
    model = document["services"]["policy_model"]
    assert [s["source"] for s in model["secrets"]] == [name]
    assert name not in model.get("environment", {})  # a file in /run/secrets, not an environment variable
    assert "secrets" not in document["services"][AGENT]
    assert "secrets" not in document["services"][ENV]


def test_the_sandbox_network_is_internal(tmp_path: Path) -> None:
    document = _stack(tmp_path, [CODE_EXEC])
    internal = [name for name, net in document["networks"].items() if net.get("internal")]
    assert len(internal) == 1
    members = {name for name, svc in document["services"].items() if internal[0] in svc["networks"]}
    assert members == {"code_exec", "code_sandbox"}
    assert document["services"]["code_sandbox"]["read_only"] is True


def test_vllm_is_placed_on_gpu_nodes(tmp_path: Path) -> None:
    document = _stack(tmp_path, [WEATHER], model="vllm", sets=("policy_model_name=Qwen/Qwen3-0.6B",))
    deploy = document["services"]["policy_model-vllm"]["deploy"]
    assert GPU_CONSTRAINT in deploy["placement"]["constraints"]
    gpu = deploy["resources"]["reservations"]["generic_resources"][0]["discrete_resource_spec"]
    assert gpu == {"kind": "NVIDIA-GPU", "value": 1}


def test_mounted_secrets_reach_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "GYMBOX_SECRET_POLICY_MODEL_API_KEY").write_text("sk-from-a-file")
    (tmp_path / "unrelated").write_text("x")
    monkeypatch.delenv("GYMBOX_SECRET_POLICY_MODEL_API_KEY", raising=False)
    assert load_mounted_secrets(tmp_path) == ["GYMBOX_SECRET_POLICY_MODEL_API_KEY"]
    assert os.environ["GYMBOX_SECRET_POLICY_MODEL_API_KEY"] == "sk-from-a-file"
    assert "unrelated" not in os.environ

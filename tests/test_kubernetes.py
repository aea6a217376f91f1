"""Kubernetes manifests (`gymbox render --engine k8s`): no cluster runs here, so every document is validated
offline against the Kubernetes API schema (kubernetes-validate, strict: unknown fields fail), and what the
manifests must do is asserted on their content."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.images import StackImages, environments_of
from gymbox.docker.render import render
from gymbox.kubernetes import MANIFEST_FILE, secret_name, write_manifests

ROOT = Path(__file__).resolve().parent.parent
ALL_CONFIGS = sorted(ROOT.glob("environments/*/configs/*.yaml"))
API_VERSION = kubernetes_validate.latest_version()


@pytest.fixture(autouse=True)
def _no_local_env_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # load_config reads ./env.yaml


def _render(tmp_path: Path, model: str, sets: list[str]) -> tuple[list[dict[str, Any]], Path]:
    config = load_config(ALL_CONFIGS, model=model, sets=sets)
    images = StackImages(
        "gymbox/runtime:000000000000", {env: f"gymbox/env-{env}:111111111111" for env in environments_of(config)}
    )
    files = render(config, "all", images, root=tmp_path)
    path = write_manifests(files)
    return [doc for doc in yaml.safe_load_all(path.read_text()) if doc], files.directory


@pytest.fixture
def all_envs(tmp_path: Path) -> tuple[list[dict[str, Any]], Path]:
    return _render(tmp_path, "scripted", [])


@pytest.fixture
def vllm(tmp_path: Path) -> tuple[list[dict[str, Any]], Path]:
    return _render(tmp_path, "vllm", ["policy_model_name=Qwen/Qwen3-0.6B", "hf_token=hf_secretvalue_0123456789"])


def _by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {doc["metadata"]["name"]: doc for doc in docs if doc["kind"] == kind}


@pytest.mark.parametrize("fixture", ["all_envs", "vllm"])
def test_every_manifest_passes_the_kubernetes_schema(fixture: str, request: pytest.FixtureRequest) -> None:
    docs, _ = request.getfixturevalue(fixture)
    assert docs
    for doc in docs:
        kubernetes_validate.validate(doc, API_VERSION, strict=True)  # raises on any schema error


def test_each_instance_is_a_deployment_and_a_headless_service(all_envs: tuple[list[dict[str, Any]], Path]) -> None:
    docs, directory = all_envs
    compose = yaml.safe_load((directory / "docker-compose.yaml").read_text())["services"]
    deployments, services = _by_kind(docs, "Deployment"), _by_kind(docs, "Service")
    assert set(deployments) == set(services) == set(compose)
    for name, service in services.items():
        # Headless: the name resolves to every pod, so an agent can pin an episode to one of them.
        assert service["spec"]["clusterIP"] == "None"
        pod_labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert service["spec"]["selector"].items() <= pod_labels.items()
        container = deployments[name]["spec"]["template"]["spec"]["containers"][0]
        assert container["image"] == compose[name]["image"]
        assert container["args"] == compose[name]["command"]


def test_the_sandbox_admits_only_its_environment_and_reaches_nothing(
    all_envs: tuple[list[dict[str, Any]], Path],
) -> None:
    docs, _ = all_envs
    policy = _by_kind(docs, "NetworkPolicy")["code_sandbox-isolation"]["spec"]
    assert policy["podSelector"]["matchLabels"]["app.kubernetes.io/name"] == "code_sandbox"
    assert policy["egress"] == []
    assert set(policy["policyTypes"]) == {"Ingress", "Egress"}
    allowed = [peer["podSelector"]["matchLabels"]["app.kubernetes.io/name"] for peer in policy["ingress"][0]["from"]]
    assert allowed == ["code_exec"]
    sandbox = _by_kind(docs, "Deployment")["code_sandbox"]["spec"]["template"]["spec"]
    security = sandbox["containers"][0]["securityContext"]
    assert security["readOnlyRootFilesystem"] is True
    # Root with six capabilities, to give each run a user of its own; the runs keep none.
    assert security["capabilities"] == {
        "drop": ["ALL"],
        "add": ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"],
    }
    assert (security["runAsUser"], security["runAsNonRoot"]) == (0, False)
    assert "envFrom" not in sandbox["containers"][0]  # the code it runs could read its environment


def test_vllm_gets_a_gpu_a_model_cache_claim_and_no_secret_in_the_file(
    vllm: tuple[list[dict[str, Any]], Path],
) -> None:
    docs, directory = vllm
    text = (directory / MANIFEST_FILE).read_text()
    assert "hf_secretvalue_0123456789" not in text
    engine = _by_kind(docs, "Deployment")["policy_model-vllm"]["spec"]["template"]["spec"]
    container = engine["containers"][0]
    assert container["resources"]["limits"]["nvidia.com/gpu"] == 1
    claims = [v["persistentVolumeClaim"]["claimName"] for v in engine["volumes"] if "persistentVolumeClaim" in v]
    assert claims
    assert set(claims) <= set(_by_kind(docs, "PersistentVolumeClaim"))
    token = next(e for e in container["env"] if e["name"] == "HF_TOKEN")
    assert token["valueFrom"]["secretKeyRef"]["name"] == secret_name("all")
    # The model download may take many minutes before the first health answer.
    assert container["startupProbe"]["failureThreshold"] * container["startupProbe"]["periodSeconds"] >= 1800


def test_the_api_key_reaches_only_the_model_servers_pod(tmp_path: Path) -> None:
    docs, _ = _render(
        tmp_path,
        "openai",
        ["policy_base_url=http://127.0.0.1:9/v1", "policy_api_key=sk-policy-0123456789", "policy_model_name=m"],
    )
    holders = {}
    for name, deployment in _by_kind(docs, "Deployment").items():
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert "envFrom" not in container  # never the whole Secret
        keys = [e["valueFrom"]["secretKeyRef"]["key"] for e in container.get("env", []) if "valueFrom" in e]
        if keys:
            holders[name] = keys
    assert holders == {"policy_model": ["GYMBOX_SECRET_POLICY_MODEL_API_KEY"]}

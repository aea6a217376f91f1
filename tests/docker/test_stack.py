"""Real stacks: `gymbox up` / `ps` / `logs` / `down`, through the CLI, as a user runs them."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.docker.conftest import ROOT, WEATHER_AGENT, WEATHER_CONFIG, gymbox, leftovers

pytestmark = pytest.mark.docker
EXAMPLE_ROW = ROOT / "environments/example_single_tool_call/data/example.jsonl"
AGENT_FIELDS = f"{WEATHER_AGENT}.responses_api_agents.simple_agent"


def _up(stack: str, env: dict[str, str], *sets: str, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    args = ["up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack, "--timeout", str(timeout)]
    for item in sets:
        args += ["--set", item]
    return gymbox(*args, env=env, timeout=timeout + 600, check=False)


def test_weather_stack_runs_a_rollout_and_leaves_nothing_behind(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str]
) -> None:
    from gymbox.docker.stack import Stack, agent_urls

    started = _up(stack_name, gymbox_env, f"{AGENT_FIELDS}.replicas=2")
    assert started.returncode == 0, started.stderr
    found = agent_urls(Stack(stack_name).containers())
    assert list(found) == [WEATHER_AGENT]  # the only agent
    urls = found[WEATHER_AGENT]
    assert len(urls) == 2
    assert all(url.startswith("http://127.0.0.1:") and url in started.stdout for url in urls)

    row = json.loads(EXAMPLE_ROW.read_text().splitlines()[0])
    for url in urls:  # every replica answers
        result = httpx.post(f"{url}/run", json=row, timeout=60)
        assert result.status_code == 200, result.text
        assert result.json()["reward"] == 1.0

    for container in Stack(stack_name).containers():  # each server chose batch scheduling, in a container too
        init = subprocess.run(["docker", "inspect", "-f", "{{.State.Pid}}", container.id], capture_output=True,
                              text=True, check=True).stdout.strip()  # fmt: skip
        server = Path(f"/proc/{init}/task/{init}/children").read_text().split()  # under tini, PID 1
        assert [os.sched_getscheduler(int(pid)) for pid in server] == [os.SCHED_BATCH], container.name

    ps = gymbox("ps", "--name", stack_name, env=gymbox_env)
    assert "healthy" in ps.stdout
    assert urls[0] in ps.stdout
    logs = gymbox("logs", "--name", stack_name, "policy_model", env=gymbox_env)
    assert "Uvicorn running" in logs.stdout + logs.stderr

    down = gymbox("down", "--name", stack_name, env=gymbox_env, timeout=120)
    assert "removed 4 container(s), 1 network(s)" in down.stderr
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_interrupting_up_tears_the_stack_down(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str]
) -> None:
    argv = [
        str(Path(sys.executable).parent / "gymbox"),
        "up",
        "-c",
        str(WEATHER_CONFIG),
        "-m",
        "scripted",
        "--name",
        stack_name,
    ]
    proc = subprocess.Popen(argv, env=gymbox_env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    # Interrupt mid-start: as soon as the first container exists, before the stack is healthy.
    deadline = time.monotonic() + 120
    while not leftovers(stack_name)["containers"]:
        assert proc.poll() is None, proc.communicate()
        assert time.monotonic() < deadline, "no container started within 120 s"
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, stderr = proc.communicate(timeout=120)
    assert proc.returncode == 130, stderr
    assert "torn down" in stderr
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_a_crashing_server_is_named_with_its_log_and_a_hint(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str]
) -> None:
    # A rule whose regex does not compile passes field validation but fails the scripted model's start,
    # so its container exits at once. (An unknown field no longer gets that far: `up` refuses it first.)
    result = _up(
        stack_name,
        gymbox_env,
        'policy_model.responses_api_models.scripted_model.rules=[{match: "(", script: []}]',
        timeout=60,
    )
    assert result.returncode == 1
    assert "service 'policy_model'" in result.stderr
    assert "missing )" in result.stderr  # from the container's log
    assert "Hint:" in result.stderr
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_a_misspelt_field_fails_up_before_anything_starts(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str]
) -> None:
    result = _up(stack_name, gymbox_env, f"{AGENT_FIELDS}.max_stepz=3", timeout=60)
    assert result.returncode == 1
    assert f"{AGENT_FIELDS}.max_stepz: unknown field (did you mean 'max_steps'?)" in result.stderr
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_only_the_model_servers_container_holds_the_api_key(
    stack_name: str, gymbox_env: dict[str, str], weather_images: tuple[str, str], tmp_path: Path
) -> None:
    from gymbox.docker.client import docker
    from gymbox.docker.stack import Stack

    key = "sk-only-for-the-model-0123456789"
    env_file = tmp_path / "env.yaml"
    # The proxy needs no reachable upstream to be healthy; nothing here calls it.
    env_file.write_text(f"policy_base_url: http://127.0.0.1:9/v1\npolicy_api_key: {key}\npolicy_model_name: m\n")
    args = ["up", "-c", str(WEATHER_CONFIG), "-m", "openai", "--env-file", str(env_file), "--name", stack_name]
    try:
        started = gymbox(*args, "--timeout", "120", env=gymbox_env, timeout=720, check=False)
        assert started.returncode == 0, started.stderr
        holders = set()
        for c in Stack(stack_name).containers():
            environment = docker("inspect", "--format", "{{json .Config.Env}}", c.id).stdout
            if key in environment:
                holders.add(c.instance)
        assert holders == {"policy_model"}
    finally:
        gymbox("down", "--name", stack_name, env=gymbox_env, timeout=120, check=False)
    assert leftovers(stack_name) == {"containers": [], "networks": [], "volumes": []}


def test_rendered_files_pass_compose_config(tmp_path: Path, gymbox_env: dict[str, str]) -> None:
    from gymbox.config import load_config
    from gymbox.docker import client
    from gymbox.docker.images import StackImages
    from gymbox.docker.render import render

    vllm = "policy_model.responses_api_models.vllm_model"
    stacks = {
        "weather": load_config([WEATHER_CONFIG], model="scripted", sets=[f"{AGENT_FIELDS}.replicas=2"]),
        "vllm": load_config(
            [WEATHER_CONFIG],
            model="vllm",
            sets=["policy_model_name=Qwen/Qwen3-8B", f"{vllm}.api_key=sk-0123456789abcdef", f"{vllm}.memory=8g"],
        ),
    }
    images = StackImages("gymbox/runtime:0", {"example_single_tool_call": "gymbox/env-x:0"})
    for name, stack in stacks.items():
        rendered = render(stack, name, images, root=tmp_path)
        out = client.compose(rendered.project, [str(rendered.compose_file)], "config").stdout
        assert "sk-0123456789abcdef" in out or name == "weather"  # compose resolves .env references
        assert "gymbox.stack" in out


def test_down_all_and_without_a_stack(gymbox_env: dict[str, str]) -> None:
    from gymbox.docker.client import docker

    name = "test-down-all-probe"
    docker("network", "create", "--label", f"gymbox.stack={name}", f"{name}_default")
    try:
        result = gymbox("down", "--name", name, env=gymbox_env)
        assert "removed 0 container(s), 1 network(s)" in result.stderr
    finally:
        docker("network", "rm", f"{name}_default", check=False)
    assert leftovers(name)["networks"] == []

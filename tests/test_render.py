"""Rendering a stack into compose/<stack>/ (no Docker needed)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.images import StackImages
from gymbox.docker.render import default_stack_name, render
from gymbox.docker.secrets import dotenv_line, env_var_name, extract_secrets
from gymbox.errors import ConfigError

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
GOLDEN = Path(__file__).parent / "data" / "golden"
IMAGES = StackImages("gymbox/runtime:000000000000", {"example_single_tool_call": "gymbox/env-weather:111111111111"})
AGENT = "example_single_tool_call_simple_agent"
VLLM = "policy_model.responses_api_models.vllm_model"
SECRETS = {
    f"{VLLM}.api_key": "sk-proxy-key-0123456789",
    "hf_token": "hf_tokenvalue_abcdefghij",
}


@pytest.fixture(autouse=True)
def _no_local_env_yaml(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """load_config reads ./env.yaml; a developer's own must not leak into these renders."""
    monkeypatch.chdir(tmp_path)


def _weather(tmp_path: Path, *sets: str):
    stack = load_config([WEATHER], model="scripted", sets=list(sets))
    return render(stack, "weather", IMAGES, root=tmp_path)


def _compose(rendered) -> dict:
    return yaml.safe_load(rendered.compose_file.read_text())


def test_one_service_per_instance_with_its_image_and_command(tmp_path: Path) -> None:
    services = _compose(_weather(tmp_path))["services"]
    assert set(services) == {"policy_model", "example_single_tool_call", AGENT}
    assert services["example_single_tool_call"]["image"] == "gymbox/env-weather:111111111111"
    assert services[AGENT]["image"] == services["policy_model"]["image"] == "gymbox/runtime:000000000000"
    assert services[AGENT]["command"] == [
        "gymbox",
        "serve",
        "-c",
        "/etc/gymbox/stack.yaml",
        "--name",
        AGENT,
        "--host",
        "0.0.0.0",
        "--port",
        "8000",
    ]


def test_services_are_non_root_init_labelled_and_health_checked(tmp_path: Path) -> None:
    compose = _compose(_weather(tmp_path))
    assert compose["version"] == "2.4"
    for name, svc in compose["services"].items():
        assert svc["user"] == "10001:10001"
        assert svc["init"] is True
        assert svc["labels"]["gymbox.stack"] == "weather"
        assert svc["labels"]["gymbox.instance"] == name
        assert svc["volumes"] == ["./stack.yaml:/etc/gymbox/stack.yaml:ro"]
        assert "env_file" not in svc  # .env holds every secret; each service gets only its own
        assert svc["healthcheck"]["interval"] == "10s"  # `up` probes them itself; the engine rarely
        assert "/health" in svc["healthcheck"]["test"][-1]
        assert svc["restart"] == "unless-stopped"
    assert compose["networks"]["default"]["labels"] == {"gymbox.stack": "weather"}


def test_only_agents_publish_ports_on_loopback(tmp_path: Path) -> None:
    services = _compose(_weather(tmp_path))["services"]
    assert services[AGENT]["ports"] == ["127.0.0.1::8000"]
    assert "ports" not in services["policy_model"]
    assert "ports" not in services["example_single_tool_call"]


def test_agents_start_after_their_peers_without_waiting_for_the_engines_probe(tmp_path: Path) -> None:
    # `up` waits until every server answers /health; an agent dials its peers per request, not at start.
    services = _compose(_weather(tmp_path))["services"]
    assert services[AGENT]["depends_on"] == {
        "example_single_tool_call": {"condition": "service_started"},
        "policy_model": {"condition": "service_started"},
    }
    assert "depends_on" not in services["policy_model"]


def test_replicas_limits_and_restart_come_from_the_config(tmp_path: Path) -> None:
    agent = f"{AGENT}.responses_api_agents.simple_agent"
    rendered = _weather(
        tmp_path, f"{agent}.replicas=3", f"{agent}.cpus=1.5", f"{agent}.memory=512m", f"{agent}.restart=on-failure"
    )
    svc = _compose(rendered)["services"][AGENT]
    assert (svc["scale"], svc["cpus"], svc["mem_limit"], svc["restart"]) == (3, 1.5, "512m", "on-failure")
    assert "scale" not in _compose(rendered)["services"]["policy_model"]


def test_stack_yaml_points_every_instance_at_its_service(tmp_path: Path) -> None:
    rendered = _weather(tmp_path)
    inside = load_config([rendered.directory / "stack.yaml"])
    for name, inst in inside.instances.items():
        assert (inst.config.host, inst.config.port) == (name, 8000)
    assert inside.instance(AGENT).url == f"http://{AGENT}:8000"


def test_dollar_signs_are_escaped_for_compose(tmp_path: Path) -> None:
    from gymbox.docker.render import _yaml_value

    assert _yaml_value("a$b") == '"a$$b"'
    assert _yaml_value(["$x", 1]) == '["$$x", 1]'


# ----------------------------------------------------------------------------------------- secrets


def _vllm_stack():
    sets = [
        "policy_model_name=Qwen/Qwen3-8B",
        f"{VLLM}.max_model_len=16384",
        f"{VLLM}.tensor_parallel_size=2",
        f"{VLLM}.replicas=2",
        *(f"{k}={v}" for k, v in SECRETS.items()),
    ]
    return load_config([WEATHER], model="vllm", sets=sets)


def test_no_secret_value_in_rendered_files_only_in_dotenv(tmp_path: Path) -> None:
    rendered = render(_vllm_stack(), "vllm", IMAGES, root=tmp_path)
    directory = rendered.directory
    for name in ("docker-compose.yaml", "stack.yaml"):
        text = (directory / name).read_text()
        for value in SECRETS.values():
            assert value not in text, name
    dotenv = directory / ".env"
    assert stat.S_IMODE(dotenv.stat().st_mode) == 0o600
    text = dotenv.read_text()
    assert f"GYMBOX_SECRET_POLICY_MODEL_API_KEY={SECRETS[f'{VLLM}.api_key']}" in text
    assert f"GYMBOX_SECRET_HF_TOKEN={SECRETS['hf_token']}" in text


def test_containers_read_secrets_back_from_the_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    rendered = render(_vllm_stack(), "vllm", IMAGES, root=tmp_path)
    for line in (rendered.directory / ".env").read_text().splitlines():
        if line and not line.startswith("#"):
            key, value = line.split("=", 1)
            monkeypatch.setenv(key, value)
    inside = load_config([rendered.directory / "stack.yaml"])
    assert inside.instance("policy_model").config.extra_fields()["api_key"] == SECRETS[f"{VLLM}.api_key"]
    assert inside.variables["hf_token"] == SECRETS["hf_token"]


def test_the_api_key_reaches_only_the_model_servers_container(tmp_path: Path) -> None:
    env = tmp_path / "env.yaml"
    env.write_text(
        "policy_base_url: http://127.0.0.1:9/v1\npolicy_api_key: sk-policy-0123456789\npolicy_model_name: m\n"
    )
    rendered = render(load_config([WEATHER], model="openai", env_file=env), "openai", IMAGES, root=tmp_path)
    services = _compose(rendered)["services"]
    key_var = "GYMBOX_SECRET_POLICY_MODEL_API_KEY"
    assert services["policy_model"]["environment"] == {key_var: "${" + key_var + "}"}  # compose fills it from .env
    for name in (AGENT, "example_single_tool_call"):
        assert "env_file" not in services[name]
        assert not any("SECRET" in var for var in services[name].get("environment", {})), name
    assert f"{key_var}=sk-policy-0123456789" in (rendered.directory / ".env").read_text()


def test_each_container_loads_the_stack_with_only_its_own_secrets(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """What `gymbox serve --name X` does in X's container, given only the variables X's service names."""
    rendered = render(_vllm_stack(), "vllm", IMAGES, root=tmp_path)
    services = _compose(rendered)["services"]
    dotenv = dict(line.split("=", 1) for line in (rendered.directory / ".env").read_text().splitlines() if "=" in line)
    for name in ("policy_model", AGENT, "example_single_tool_call"):
        for var in dotenv:
            monkeypatch.delenv(var, raising=False)
        for var in services[name].get("environment", {}):
            if var in dotenv:
                monkeypatch.setenv(var, dotenv[var])
        inside = load_config([rendered.directory / "stack.yaml"], serving=name)
        assert inside.instance(name).name == name
    model_fields = inside.instance("policy_model").config.extra_fields()
    assert model_fields["api_key"] == "${env:GYMBOX_SECRET_POLICY_MODEL_API_KEY}"  # left unresolved, not leaked


def test_dotenv_is_private_even_when_it_existed(tmp_path: Path) -> None:
    (tmp_path / "vllm").mkdir()
    (tmp_path / "vllm" / ".env").write_text("old")
    os.chmod(tmp_path / "vllm" / ".env", 0o644)
    render(_vllm_stack(), "vllm", IMAGES, root=tmp_path)
    assert stat.S_IMODE((tmp_path / "vllm" / ".env").stat().st_mode) == 0o600


def test_secret_names_and_lists_under_secret_keys() -> None:
    data = {
        "m": {"responses_api_models": {"openai_model": {"api_key": "k1", "max_tokens": 5}}},
        "judge_api_key": ["a", "b"],
        "db_password": None,
    }
    redacted, found = extract_secrets(data)
    assert redacted["m"]["responses_api_models"]["openai_model"] == {
        "api_key": "${env:GYMBOX_SECRET_M_API_KEY}",
        "max_tokens": 5,
    }
    assert redacted["judge_api_key"] == ["${env:GYMBOX_SECRET_JUDGE_API_KEY_0}", "${env:GYMBOX_SECRET_JUDGE_API_KEY_1}"]
    assert redacted["db_password"] is None
    assert found == {
        "GYMBOX_SECRET_M_API_KEY": "k1",
        "GYMBOX_SECRET_JUDGE_API_KEY_0": "a",
        "GYMBOX_SECRET_JUDGE_API_KEY_1": "b",
    }
    assert env_var_name(("policy-model", "x")) == "GYMBOX_SECRET_POLICY_MODEL_X"


@pytest.mark.parametrize(
    ("value", "line"),
    [
        ("sk-abc_123.XYZ/+=", "K=sk-abc_123.XYZ/+="),
        ('a$b "c" #d', "K='a$b \"c\" #d'"),
    ],
)
def test_dotenv_lines_read_back_the_same_in_compose_v1_and_v2(value: str, line: str) -> None:
    assert dotenv_line("K", value) == line


@pytest.mark.parametrize("value", ["it's\\", "multi\nline"])
def test_dotenv_refuses_values_it_cannot_carry(value: str) -> None:
    with pytest.raises(ConfigError, match="K"):
        dotenv_line("K", value)


# ----------------------------------------------------------------------------------------- vLLM


def test_vllm_render_matches_golden_files(tmp_path: Path) -> None:
    """Set GYMBOX_UPDATE_GOLDEN=1 to rewrite tests/data/golden/vllm/ after an intended change."""
    rendered = render(_vllm_stack(), "vllm", IMAGES, root=tmp_path)
    for name in ("docker-compose.yaml", "stack.yaml"):
        got = (rendered.directory / name).read_text()
        golden = GOLDEN / "vllm" / name
        if os.environ.get("GYMBOX_UPDATE_GOLDEN"):
            golden.write_text(got)
        assert got == golden.read_text(), f"{name} differs from {golden}"


def test_vllm_service_reserves_gpus_and_caches_models(tmp_path: Path) -> None:
    compose = _compose(render(_vllm_stack(), "vllm", IMAGES, root=tmp_path))
    vllm = compose["services"]["policy_model-vllm"]
    assert vllm["image"] == "vllm/vllm-openai:v0.33.0"
    assert vllm["deploy"]["resources"]["reservations"]["devices"] == [
        {"driver": "nvidia", "count": 2, "capabilities": ["gpu"]}
    ]
    assert vllm["command"][:2] == ["--model", "Qwen/Qwen3-8B"]
    assert "ports" not in vllm
    assert vllm["environment"]["VLLM_API_KEY"] == "${GYMBOX_SECRET_POLICY_MODEL_API_KEY}"
    assert vllm["healthcheck"]["start_period"] == "1800s"
    assert compose["services"]["policy_model"]["depends_on"] == {"policy_model-vllm": {"condition": "service_healthy"}}
    assert compose["volumes"]["policy_model-hf-cache"]["labels"]["gymbox.stack"] == "vllm"


def test_vllm_with_own_base_url_gets_no_container(tmp_path: Path) -> None:
    stack = load_config(
        [WEATHER], model="vllm", sets=["policy_model_name=m", f"{VLLM}.base_url=http://gpu-box:8000/v1"]
    )
    assert "policy_model-vllm" not in _compose(render(stack, "ext", IMAGES, root=tmp_path))["services"]


# ----------------------------------------------------------------------------------------- names


def test_stack_names() -> None:
    assert default_stack_name([WEATHER], "scripted") == "example_single_tool_call"
    assert default_stack_name([], "vllm") == "vllm"
    with pytest.raises(ConfigError, match="stack name"):
        render(_vllm_stack(), "Bad Name", IMAGES)


def test_missing_environment_image_is_an_error(tmp_path: Path) -> None:
    stack = load_config([WEATHER], model="scripted")
    with pytest.raises(ConfigError, match="example_single_tool_call"):
        render(stack, "weather", StackImages("gymbox/runtime:0", {}), root=tmp_path)


def test_a_config_change_changes_every_services_config_label(tmp_path: Path) -> None:
    """Compose cannot see into stack.yaml; the label is what makes it recreate the containers."""
    before = _compose(_weather(tmp_path))["services"]
    after = _compose(_weather(tmp_path, f"{AGENT}.responses_api_agents.simple_agent.max_steps=3"))["services"]
    for name in before:
        assert before[name]["labels"]["gymbox.config"] != after[name]["labels"]["gymbox.config"]


CODE_EXEC = ROOT / "environments/code_exec/configs/code_exec.yaml"


def _code_exec(tmp_path: Path, *sets: str) -> dict:
    stack = load_config([CODE_EXEC], model="scripted", sets=list(sets))
    images = StackImages("gymbox/runtime:000000000000", {"code_exec": "gymbox/env-code_exec:222222222222"})
    return _compose(render(stack, "code", images, root=tmp_path))


def test_a_sandbox_is_hardened_and_alone_on_an_internal_network(tmp_path: Path) -> None:
    compose = _code_exec(tmp_path)
    sandbox = compose["services"]["code_sandbox"]
    assert sandbox["image"] == "gymbox/runtime:000000000000"
    assert sandbox["networks"] == ["code_sandbox-net"]
    assert compose["networks"]["code_sandbox-net"]["internal"] is True
    # Root with the capabilities to give each run a user of its own and clean up after it; runs keep none.
    assert sandbox["user"] == "0:0"
    assert sandbox["cap_drop"] == ["ALL"]
    assert sandbox["cap_add"] == ["CHOWN", "DAC_OVERRIDE", "FOWNER", "KILL", "SETGID", "SETUID"]
    assert sandbox["read_only"] is True
    # A tmpfs per run slot (a disk quota per run), and the shared /tmp.
    assert sandbox["tmpfs"] == [
        "/tmp:size=256m,mode=1777",
        *(f"/sandbox/slot-{i}:size=64m,mode=0700,nr_inodes=16384" for i in range(4)),
    ]
    assert sandbox["environment"]["GYMBOX_SANDBOX_ROOT"] == "/sandbox"
    assert sandbox["security_opt"] == ["no-new-privileges:true"]
    assert sandbox["pids_limit"] == 512
    # max_concurrency runs at their memory limit with full folders, /tmp, /dev/shm and the server
    assert sandbox["mem_limit"] == f"{4 * (512 + 64) + 256 + 64 + 256}m"
    assert "env_file" not in sandbox  # the code it runs could read the server's environment
    assert "init" not in sandbox  # the server is PID 1, out of reach of its runs' signals
    assert "ports" not in sandbox


def test_only_servers_that_name_a_sandbox_join_its_network(tmp_path: Path) -> None:
    services = _code_exec(tmp_path)["services"]
    assert services["code_exec"]["networks"] == ["default", "code_sandbox-net"]
    assert services["code_exec"]["depends_on"]["code_sandbox"] == {"condition": "service_started"}
    assert services["code_exec_simple_agent"]["networks"] == ["default"]
    assert services["policy_model"]["networks"] == ["default"]


def test_sandbox_limits_come_from_its_config(tmp_path: Path) -> None:
    sandbox = _code_exec(
        tmp_path,
        "code_sandbox.sandboxes.python_sandbox.pids_limit=64",
        "code_sandbox.sandboxes.python_sandbox.tmpfs_mb=32",
        "code_sandbox.sandboxes.python_sandbox.disk_mb=8",
        "code_sandbox.sandboxes.python_sandbox.max_concurrency=2",
        "code_sandbox.sandboxes.python_sandbox.memory=1g",
    )["services"]["code_sandbox"]
    assert sandbox["pids_limit"] == 64
    assert sandbox["tmpfs"] == [
        "/tmp:size=32m,mode=1777",
        "/sandbox/slot-0:size=8m,mode=0700,nr_inodes=16384",
        "/sandbox/slot-1:size=8m,mode=0700,nr_inodes=16384",
    ]
    assert sandbox["mem_limit"] == "1g"


def test_a_bad_sandbox_field_names_the_file_and_field(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"override code_sandbox.*max_concurency: unknown field.*'max_concurrency'"):
        _code_exec(tmp_path, "code_sandbox.sandboxes.python_sandbox.max_concurency=2")


def test_a_sandbox_can_run_in_an_environments_image_to_import_its_requirements(tmp_path: Path) -> None:
    stack = load_config([CODE_EXEC], model="scripted", sets=["code_sandbox.sandboxes.python_sandbox.environment=math"])
    from gymbox.docker.images import environments_of

    assert environments_of(stack) == ["code_exec", "math"]  # so `up` builds math's image too
    images = StackImages(
        "gymbox/runtime:000000000000",
        {"code_exec": "gymbox/env-code_exec:222222222222", "math": "gymbox/env-math:333333333333"},
    )
    sandbox = _compose(render(stack, "code", images, root=tmp_path))["services"]["code_sandbox"]
    assert sandbox["image"] == "gymbox/env-math:333333333333"
    assert sandbox["read_only"] is True

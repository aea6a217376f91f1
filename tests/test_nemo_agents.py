"""NeMo Gym's own agents and model servers in a stack, and the NeMo head server, without Docker: which
implementation runs, the images' folders, the rendered services, the head's host view, and secrets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.images import StackImages, nemo_instances
from gymbox.docker.render import render
from gymbox.errors import ConfigError
from gymbox.nemo.images import server_spec
from gymbox.nemo.runtime import CONFIG_DICT_VAR
from gymbox.nemo.servers import is_nemo_server, nemo_server

SECRET = "sk-nemo-model-secret-789"
APP = "from nemo_gym.server_utils import BaseServer\n"


def nemo_tree(root: Path) -> Path:
    """A NeMo Gym wheel's layout with an agent gymbox has (simple_agent), one it lacks (gymnasium_agent)
    and a model server (openai_model)."""
    (root / "nemo_gym-0.4.0.dist-info").mkdir(parents=True)
    for role, name in (
        ("responses_api_agents", "simple_agent"),
        ("responses_api_agents", "gymnasium_agent"),
        ("responses_api_models", "openai_model"),
    ):
        folder = root / role / name
        folder.mkdir(parents=True)
        (folder / "app.py").write_text(APP)
        (folder / "requirements.txt").write_text("-e nemo-gym[dev] @ ../../\n")
    (root / "configs").mkdir()
    return root


def write(path: Path, config: dict[str, Any]) -> Path:
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def refs(env: str = "counter", model: str = "nemo_model") -> dict[str, Any]:
    return {
        "resources_server": {"type": "resources_servers", "name": env},
        "model_server": {"type": "responses_api_models", "name": model},
    }


def nemo_stack(tree: Path, **agent_fields: Any) -> Path:
    """gymbox's environment and scripted policy; NeMo's simple_agent and openai_model; gymbox's agent."""
    nemo = {"path": "../responses_api_agents/simple_agent"}
    model = {"path": "../responses_api_models/openai_model"}
    return write(
        tree / "configs" / "stack.yaml",
        {
            "counter": {"resources_servers": {"example_session_state_mgmt": {}}},
            "nemo_model": {
                "responses_api_models": {
                    "openai_model": {
                        "nemo_gym": model,
                        "openai_base_url": "http://policy_model:8000/v1",
                        "openai_api_key": SECRET,
                        "openai_model": "gymbox-scripted",
                    }
                }
            },
            "nemo_agent": {
                "responses_api_agents": {"simple_agent": {"nemo_gym": nemo, "port": 18500, **refs(), **agent_fields}}
            },
            "gymbox_agent": {"responses_api_agents": {"simple_agent": refs(model="policy_model")}},
            "head_server": {"port": 18600},
        },
    )


def test_an_entrypoint_keeps_gymboxs_agent_where_gymbox_has_it_and_runs_nemos_otherwise(tmp_path: Path) -> None:
    tree = nemo_tree(tmp_path / "wheel")
    config = write(
        tree / "configs" / "nemo.yaml",
        {
            "counter": {"resources_servers": {"example_session_state_mgmt": {}}},
            "ours": {"responses_api_agents": {"simple_agent": {"entrypoint": "app.py", **refs(model="policy_model")}}},
            "theirs": {
                "responses_api_agents": {"gymnasium_agent": {"entrypoint": "app.py", **refs(model="policy_model")}}
            },
        },
    )
    stack = load_config([config], model="scripted")

    assert not is_nemo_server(stack.instance("ours"))  # NeMo configs carry entrypoint on every server
    assert not is_nemo_server(stack.instance("policy_model"))
    assert is_nemo_server(stack.instance("theirs"))
    found = nemo_server(stack.instance("theirs"))
    assert (found.folder, found.role) == (
        (tree / "responses_api_agents" / "gymnasium_agent").resolve(),
        "responses_api_agents",
    )
    assert nemo_instances(stack) == ["theirs"]


def test_an_agent_neither_gymbox_nor_nemo_has_names_the_file_and_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = write(
        tmp_path / "stack.yaml",
        {
            "counter": {"resources_servers": {"example_session_state_mgmt": {}}},
            "a": {"responses_api_agents": {"gymnasium_agent": {"entrypoint": "app.py", **refs(model="policy_model")}}},
        },
    )

    with pytest.raises(
        ConfigError, match=r"stack\.yaml:\d+: a: .*gymbox has no responses_api_agents 'gymnasium_agent'"
    ):
        nemo_server(load_config([config], model="scripted").instance("a"))


def test_nemo_agent_and_model_images_hold_their_folder_under_their_role(tmp_path: Path) -> None:
    tree = nemo_tree(tmp_path / "wheel")
    stack = load_config([nemo_stack(tree)], model="scripted")

    agent = server_spec(nemo_server(stack.instance("nemo_agent")), "gymbox/nemo-gym:abc")
    model = server_spec(nemo_server(stack.instance("nemo_model")), "gymbox/nemo-gym:abc")

    agent_file = {f.path: f.data for f in agent.context.files}["Dockerfile"].decode()
    model_file = {f.path: f.data for f in model.context.files}["Dockerfile"].decode()
    assert "/srv/nemo/responses_api_agents/simple_agent/" in agent_file
    assert "/srv/nemo/responses_api_models/openai_model/" in model_file
    assert agent.repo == "gymbox/nemo-simple_agent"


def _render(tree: Path, tmp_path: Path, **agent_fields: Any) -> tuple[dict[str, Any], Path]:
    stack = load_config([nemo_stack(tree, **agent_fields)], model="scripted")
    images = StackImages(
        "gymbox/runtime:r",
        {"example_session_state_mgmt": "gymbox/env-counter:e"},
        {"nemo_agent": "gymbox/nemo-simple_agent:a", "nemo_model": "gymbox/nemo-openai_model:m"},
    )
    rendered = render(stack, "nemo-agents", images, root=tmp_path / "compose")
    return yaml.safe_load(rendered.compose_file.read_text()), rendered.directory


def _config_dict(service: dict[str, Any]) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(service["environment"][CONFIG_DICT_VAR].replace("$$", "$"))
    return loaded


def test_nemo_agent_and_model_run_nemos_process_and_the_agent_is_published_where_its_config_says(
    tmp_path: Path,
) -> None:
    compose, _ = _render(nemo_tree(tmp_path / "wheel"), tmp_path)
    services = compose["services"]

    agent, model = services["nemo_agent"], services["nemo_model"]
    assert (agent["image"], agent["command"]) == ("gymbox/nemo-simple_agent:a", ["python", "app.py"])
    assert (model["image"], model["command"]) == ("gymbox/nemo-openai_model:m", ["python", "app.py"])
    assert agent["ports"] == ["127.0.0.1:18500:8000"]  # the port NeMo's clients read from the head
    assert services["gymbox_agent"]["ports"] == ["127.0.0.1::8000"]  # gymbox's: Docker picks
    assert "ports" not in model
    own = _config_dict(agent)["nemo_agent"]["responses_api_agents"]["simple_agent"]
    assert (own["host"], own["port"]) == ("0.0.0.0", 8000)
    assert own["resources_server"] == {"type": "resources_servers", "name": "counter"}
    peer = _config_dict(agent)["nemo_model"]["responses_api_models"]["openai_model"]
    assert (peer["host"], peer["port"]) == ("nemo_model", 8000)
    assert set(agent["depends_on"]) == {"counter", "nemo_model", "nemo_ray_0_4_0"}
    # A NeMo server may restart once while it connects to Ray: its dependents wait for it to start, not to be
    # healthy (compose would give up on them), and `up` waits for every service's health itself.
    # A gymbox server too: `up` sees it answer /health. The Ray head is waited for by the engine's probe.
    assert agent["depends_on"]["nemo_model"] == agent["depends_on"]["counter"] == {"condition": "service_started"}
    assert agent["depends_on"]["nemo_ray_0_4_0"] == {"condition": "service_healthy"}
    assert _config_dict(agent)["head_server"] == {"host": "127.0.0.1", "port": 18600}  # NeMo servers validate it


def test_the_head_server_serves_the_stack_as_the_host_sees_it(tmp_path: Path) -> None:
    compose, _ = _render(nemo_tree(tmp_path / "wheel"), tmp_path)

    head = compose["services"]["nemo_head"]
    assert head["ports"] == ["127.0.0.1:18600:8000"]
    assert head["command"][:2] == ["python", "-c"]
    assert "HeadServer" in head["command"][2]
    assert "GET / HTTP/1.0" in head["healthcheck"]["test"][-1]
    served = _config_dict(head)
    assert served["head_server"] == {"host": "127.0.0.1", "port": 18600}
    agent = served["nemo_agent"]["responses_api_agents"]["simple_agent"]
    assert (agent["host"], agent["port"]) == ("127.0.0.1", 18500)
    assert "ray_head_node_address" not in served  # a client's dict, not a server's
    (listed,) = json.loads(head["environment"]["GYMBOX_NEMO_HEAD_INSTANCES"])  # what ng_status shows
    assert (listed["name"], listed["url"]) == ("nemo_agent", "http://127.0.0.1:18500")


def test_secrets_stay_in_env_the_model_reads_its_key_through_oc_env(tmp_path: Path) -> None:
    compose, directory = _render(nemo_tree(tmp_path / "wheel"), tmp_path)

    model = compose["services"]["nemo_model"]
    key = _config_dict(model)["nemo_model"]["responses_api_models"]["openai_model"]["openai_api_key"]
    assert key.startswith("${oc.env:GYMBOX_SECRET_")
    for name in ("nemo_agent", "nemo_head"):  # only the model's own dict names its key
        assert "openai_api_key" not in json.dumps(_config_dict(compose["services"][name]))
    for rendered in ("docker-compose.yaml", "stack.yaml"):
        assert SECRET not in (directory / rendered).read_text()
    assert SECRET in (directory / ".env").read_text()


def test_a_stack_without_nemo_agents_has_no_head(tmp_path: Path) -> None:
    tree = nemo_tree(tmp_path / "wheel")
    config = nemo_stack(tree)
    data = yaml.safe_load(config.read_text())
    del data["nemo_agent"]
    write(config, data)
    stack = load_config([config], model="scripted")
    images = StackImages(
        "gymbox/runtime:r", {"example_session_state_mgmt": "e:1"}, {"nemo_model": "gymbox/nemo-openai_model:m"}
    )

    compose = yaml.safe_load(render(stack, "no-head", images, root=tmp_path / "c").compose_file.read_text())

    assert "nemo_head" not in compose["services"]


def test_a_replicated_nemo_agent_is_refused_naming_the_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"stack\.yaml:\d+: nemo_agent: replicas: 2: .*fixed host port"):
        _render(nemo_tree(tmp_path / "wheel"), tmp_path, replicas=2)


def test_ps_and_up_show_where_the_head_listens() -> None:
    from gymbox.docker.records import parse_inspect
    from gymbox.docker.status_table import service_rows

    labels = {"gymbox.stack": "s", "gymbox.instance": "nemo_head", "gymbox.role": "nemo_head"}
    inspect = {
        "Id": "h",
        "Name": "/gymbox-s-nemo_head-1",
        "State": {"Status": "running", "Running": True},
        "Config": {"Labels": {**labels, "com.docker.compose.service": "nemo_head"}, "Image": "i"},
        "NetworkSettings": {"Ports": {"8000/tcp": [{"HostIp": "127.0.0.1", "HostPort": "18600"}]}, "Networks": {}},
    }

    (row,) = service_rows(parse_inspect(json.dumps([inspect])))

    assert (row["service"], row["role"], row["urls"]) == ("nemo_head", "nemo head", ["http://127.0.0.1:18600"])

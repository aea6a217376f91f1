"""Instances that are not gymbox implementations: any image (`container:`) and servers outside the stack
(`url:`), rendered without Docker."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.images import StackImages
from gymbox.docker.render import render
from gymbox.errors import ConfigError


def _config(tmp_path: Path, search: dict[str, object]) -> Path:
    config = {
        "search": {"resources_servers": {"search": search}},
        "search_agent": {
            "responses_api_agents": {
                "simple_agent": {
                    "resources_server": {"type": "resources_servers", "name": "search"},
                    "model_server": {"type": "responses_api_models", "name": "policy_model"},
                }
            }
        },
        "policy_model": {"responses_api_models": {"openai_model": {"url": "http://10.1.2.3:9000", "model": "m"}}},
    }
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_any_image_runs_as_it_is_and_peers_dial_its_port(tmp_path: Path) -> None:
    container = {"image": "acme/search:1.2", "command": ["serve", "--port", "9000"], "port": 9000, "health_path": "/hz"}
    stack = load_config([_config(tmp_path, {"container": container})])

    rendered = render(stack, "any-image", StackImages("gymbox/runtime:r", {}), root=tmp_path / "compose")

    services = yaml.safe_load(rendered.compose_file.read_text())["services"]
    search = services["search"]
    assert (search["image"], search["command"]) == ("acme/search:1.2", ["serve", "--port", "9000"])
    assert "user" not in search  # the image's own
    assert "127.0.0.1/9000" in search["healthcheck"]["test"][-1]
    assert "GET /hz " in search["healthcheck"]["test"][-1]
    # `up` probes only /health on 8000 itself: for this one it waits for the engine, which probes every second.
    assert search["healthcheck"]["interval"] == "1s"
    assert services["search_agent"]["depends_on"]["search"] == {"condition": "service_healthy"}
    inside = yaml.safe_load((rendered.directory / "stack.yaml").read_text())
    assert inside["search"]["resources_servers"]["search"]["port"] == 9000  # what the agent dials


def test_a_server_with_a_url_is_dialled_there_and_not_started(tmp_path: Path) -> None:
    stack = load_config([_config(tmp_path, {"container": {"image": "acme/search:1.2"}})])

    rendered = render(stack, "outside", StackImages("gymbox/runtime:r", {}), root=tmp_path / "compose")

    services = yaml.safe_load(rendered.compose_file.read_text())["services"]
    assert "policy_model" not in services
    assert services["search_agent"]["depends_on"] == {"search": {"condition": "service_started"}}  # /health on 8000
    assert "command" not in services["search"]  # the image's own CMD
    assert stack.instance("policy_model").url == "http://10.1.2.3:9000"
    inside = yaml.safe_load((rendered.directory / "stack.yaml").read_text())
    assert inside["policy_model"]["responses_api_models"]["openai_model"]["url"] == "http://10.1.2.3:9000"
    assert json.dumps(inside).count("10.1.2.3") == 1


def test_a_container_field_names_its_mistake(tmp_path: Path) -> None:
    stack = load_config([_config(tmp_path, {"container": {"image": "acme/search:1.2", "prot": 9000}})])

    with pytest.raises(ConfigError, match=r"search\.resources_servers\.search\.container\.prot"):
        render(stack, "typo", StackImages("gymbox/runtime:r", {}), root=tmp_path / "compose")

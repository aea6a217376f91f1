"""NeMo Gym servers in a stack, without Docker: finding their folders, their images' build contexts, the
config dict they read, and their compose services."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.images import StackImages
from gymbox.docker.render import container_stack, render
from gymbox.errors import ConfigError
from gymbox.nemo.images import SERVER_DOCKERFILE, declared_requirements, server_requirements, server_spec
from gymbox.nemo.runtime import CONFIG_DICT_VAR, CONFIG_PATH_VAR, nemo_config_dict
from gymbox.nemo.servers import is_nemo_server, nemo_server

WEATHER_APP = "from nemo_gym.base_resources_server import SimpleResourcesServer\n"


def nemo_tree(root: Path, version: str = "0.4.0") -> Path:
    """A NeMo Gym wheel's layout: dist-info and resources_servers/weather/ with its own config."""
    (root / f"nemo_gym-{version}.dist-info").mkdir(parents=True)
    server = root / "resources_servers" / "weather"
    (server / "configs").mkdir(parents=True)
    (server / "data").mkdir()
    (server / "app.py").write_text(WEATHER_APP)
    (server / "requirements.txt").write_text("-e nemo-gym[dev] @ ../../\ntiktoken==0.9.0\n")
    (server / "data" / "example.jsonl").write_text('{"responses_create_params": {"input": "hi"}}\n')
    config = {
        "weather": {"resources_servers": {"weather": {"entrypoint": "app.py", "domain": "agent"}}},
        "weather_simple_agent": {
            "responses_api_agents": {
                "simple_agent": {
                    "resources_server": {"type": "resources_servers", "name": "weather"},
                    "model_server": {"type": "responses_api_models", "name": "policy_model"},
                }
            }
        },
    }
    (server / "configs" / "weather.yaml").write_text(yaml.safe_dump(config))
    return server


def test_a_nemo_gym_config_used_as_is_finds_its_server_above_the_config_file(tmp_path: Path) -> None:
    server = nemo_tree(tmp_path / "wheel")
    stack = load_config([server / "configs" / "weather.yaml"], model="scripted")

    inst = stack.instance("weather")
    found = nemo_server(inst)

    assert is_nemo_server(inst)
    assert not is_nemo_server(stack.instance("policy_model"))
    assert (found.folder, found.entrypoint, found.version) == (server.resolve(), "app.py", "0.4.0")


def test_a_server_folder_path_is_relative_to_the_config_that_names_it(tmp_path: Path) -> None:
    server = nemo_tree(tmp_path / "checkout")
    config = tmp_path / "stack.yaml"
    config.write_text(
        yaml.safe_dump(
            {"w": {"resources_servers": {"weather": {"nemo_gym": {"path": "checkout/resources_servers/weather"}}}}}
        )
    )

    found = nemo_server(load_config([config]).instance("w"))

    assert found.folder == server.resolve()
    assert found.version == "0.4.0"  # the tree's own


def test_an_entrypoint_with_no_nemo_gym_tree_around_says_what_to_add(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump({"w": {"resources_servers": {"weather": {"entrypoint": "app.py"}}}}))

    with pytest.raises(ConfigError, match=r"stack.yaml:\d+: w: .*nemo_gym: \{version: 0.4.0\}"):
        nemo_server(load_config([config]).instance("w"))


def test_an_unknown_nemo_gym_key_names_file_and_key(tmp_path: Path) -> None:
    config = tmp_path / "stack.yaml"
    config.write_text(yaml.safe_dump({"w": {"resources_servers": {"weather": {"nemo_gym": {"verison": "0.4.0"}}}}}))

    with pytest.raises(ConfigError, match=r"stack.yaml:\d+: w\.resources_servers\.weather\.nemo_gym\.verison"):
        nemo_server(load_config([config]).instance("w"))


def test_requirements_drop_only_what_the_nemo_gym_layer_provides() -> None:
    text = "-e nemo-gym[dev] @ ../../\n-e ../../\nnemo_gym\n# a comment\nmath-verify==0.8.0\ndatasets\n"

    assert server_requirements(text).split() == ["#", "a", "comment", "math-verify==0.8.0", "datasets"]


def test_a_server_without_requirements_txt_installs_its_pyproject_dependencies(tmp_path: Path) -> None:
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "code-fim"\ndependencies = ["nemo-gym[dev]", "human-eval-infilling"]\n'
    )
    assert declared_requirements(tmp_path) == "human-eval-infilling\n"
    (tmp_path / "requirements.txt").write_text("-e nemo-gym[dev] @ ../../\nmath-verify\n")  # it wins, as in ng_run
    assert declared_requirements(tmp_path) == "math-verify\n"
    (tmp_path / "requirements.txt").unlink()
    (tmp_path / "pyproject.toml").write_text("[project\n")
    with pytest.raises(ConfigError, match=r"pyproject.toml: not valid TOML"):
        declared_requirements(tmp_path)


def test_a_pyproject_dependency_comes_from_where_its_uv_source_says(tmp_path: Path) -> None:
    # As code_fim declares it: uv takes human-eval-infilling from git; PyPI's release is a placeholder.
    (tmp_path / "pyproject.toml").write_text(
        "[project]\n"
        'name = "code-fim"\n'
        'dependencies = ["nemo-gym[dev]", "Human_Eval.Infilling>=1.0", "tool[cli] ; python_version >= \'3.12\'",'
        ' "plain==2.0", "local"]\n'
        "[tool.uv.sources]\n"
        'nemo-gym = { path = "../..", editable = true }\n'
        'human-eval-infilling = { git = "https://github.com/wasiahmad/human-eval-infilling.git" }\n'
        'tool = { git = "https://example.org/tool.git", tag = "v1", subdirectory = "py" }\n'
        'local = { path = "../local" }\n'
    )

    assert declared_requirements(tmp_path).splitlines() == [
        "Human_Eval.Infilling @ git+https://github.com/wasiahmad/human-eval-infilling.git",
        "tool[cli] @ git+https://example.org/tool.git@v1#subdirectory=py ; python_version >= '3.12'",
        "plain==2.0",
        "local",
    ]


def test_a_server_image_holds_its_folder_and_requirements_on_the_layer(tmp_path: Path) -> None:
    server = nemo_tree(tmp_path / "wheel")
    (server / ".venv").mkdir()  # a NeMo checkout's per-server venv never enters the image
    (server / ".venv" / "junk").write_text("x")
    found = nemo_server(load_config([server / "configs" / "weather.yaml"], model="scripted").instance("weather"))

    spec = server_spec(found, "gymbox/nemo-gym:abc")
    files = {f.path: f.data for f in spec.context.files}

    assert spec.repo == "gymbox/nemo-weather"
    assert spec.build_args == {"NEMO_LAYER": "gymbox/nemo-gym:abc"}
    assert files["requirements.txt"] == b"tiktoken==0.9.0\n"
    assert "server/app.py" in files
    assert "server/data/example.jsonl" in files
    assert not any(".venv" in path for path in files)
    assert b'CMD ["python", "app.py"]' in files["Dockerfile"]
    # Content-tagged: the same folder and layer give the same tag; a new layer, a new tag.
    assert server_spec(found, "gymbox/nemo-gym:abc").tag == spec.tag
    assert server_spec(found, "gymbox/nemo-gym:def").tag != spec.tag
    assert "{" not in SERVER_DOCKERFILE.format(
        folder="f", entrypoint="app.py", layer_arg="L", servers_dir="/s", role="r", user="u"
    ).replace("${L}", "")


def _judge_stack(tmp_path: Path) -> Path:
    server = nemo_tree(tmp_path / "wheel")
    extra = tmp_path / "judge.yaml"
    extra.write_text(
        yaml.safe_dump(
            {
                "judge_model": {
                    "responses_api_models": {
                        "openai_model": {
                            "base_url": "https://example.invalid/v1",
                            "api_key": "sk-very-secret-123",
                            "model": "judge",
                        }
                    }
                },
                "weather": {
                    "resources_servers": {
                        "weather": {
                            "judge_model_server": {"type": "responses_api_models", "name": "judge_model"},
                            "replicas": 2,
                            "hf_token": "hf-very-secret-456",
                            "template": "literal ${not_interpolated}".replace("${", "$${"),
                        }
                    }
                },
            }
        )
    )
    return server


def test_the_config_dict_uses_service_names_and_keeps_secrets_in_env(tmp_path: Path) -> None:
    server = _judge_stack(tmp_path)
    stack = load_config([server / "configs" / "weather.yaml", tmp_path / "judge.yaml"], model="scripted")
    inside = container_stack(stack)

    names = {
        "sk-very-secret-123": "GYMBOX_SECRET_JUDGE_MODEL_API_KEY",
        "hf-very-secret-456": "GYMBOX_SECRET_WEATHER_HF_TOKEN",
    }
    config = nemo_config_dict(inside, "weather", names)

    own = config["weather"]["resources_servers"]["weather"]
    assert (own["host"], own["port"], own["entrypoint"], own["domain"]) == ("0.0.0.0", 8000, "app.py", "agent")
    assert "replicas" not in own  # gymbox's deployment keys are not the server's
    assert own["template"] == "literal \\${not_interpolated}"  # OmegaConf's escape
    judge = config["judge_model"]["responses_api_models"]["openai_model"]
    assert (judge["host"], judge["port"]) == ("judge_model", 8000)
    assert "api_key" not in judge  # another server's secret is none of its business
    assert own["hf_token"] == "${oc.env:GYMBOX_SECRET_WEATHER_HF_TOKEN}"
    assert config["head_server"] == {"host": "127.0.0.1", "port": 11000}
    assert config["ray_head_node_address"] == "ray://nemo_ray_0_4_0:10001"
    assert config["dry_run"] is False


def test_a_rendered_nemo_gym_service_runs_nemo_gyms_process(tmp_path: Path) -> None:
    server = _judge_stack(tmp_path)
    stack = load_config([server / "configs" / "weather.yaml", tmp_path / "judge.yaml"], model="scripted")
    images = StackImages("gymbox/runtime:r", {}, {"weather": "gymbox/nemo-weather:t"})

    rendered = render(stack, "nemo-unit", images, root=tmp_path / "compose")

    compose = yaml.safe_load(rendered.compose_file.read_text())
    svc = compose["services"]["weather"]
    assert svc["image"] == "gymbox/nemo-weather:t"
    assert svc["command"] == ["python", "app.py"]
    assert svc["init"] is True
    assert "volumes" not in svc  # NeMo reads its config from the environment, not stack.yaml
    assert "GET / HTTP/1.0" in svc["healthcheck"]["test"][-1]
    # Its peers, and the one Ray head its NeMo servers share (a Ray cluster per container would not fit).
    assert svc["depends_on"] == {
        "judge_model": {"condition": "service_started"},  # a gymbox server: `up` waits for it
        "nemo_ray_0_4_0": {"condition": "service_healthy"},
    }
    ray = compose["services"]["nemo_ray_0_4_0"]
    assert ray["image"] == "gymbox/nemo-weather:t"
    assert ray["command"][:3] == ["ray", "start", "--head"]
    assert svc["scale"] == 2
    env = svc["environment"]
    assert env[CONFIG_PATH_VAR] == "weather"
    # compose turns `$$` back into `$`: NeMo reads ${oc.env:NAME}, and compose sets NAME from .env.
    config = json.loads(env[CONFIG_DICT_VAR].replace("$$", "$"))
    reference = config["weather"]["resources_servers"]["weather"]["hf_token"]
    assert reference == "${oc.env:GYMBOX_SECRET_WEATHER_HF_TOKEN}"
    assert env["GYMBOX_SECRET_WEATHER_HF_TOKEN"] == "${GYMBOX_SECRET_WEATHER_HF_TOKEN}"
    for secret in ("sk-very-secret-123", "hf-very-secret-456"):
        assert secret not in rendered.compose_file.read_text()
        assert secret in (rendered.directory / ".env").read_text()

"""Config loading: merge order, interpolation, required values, references, errors that name file:line."""

from pathlib import Path

import pytest

from gymbox.config import MASK, is_secret_key, load_config
from gymbox.errors import ConfigError


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text)
    return path


AGENT = """
env_a:
  resources_servers:
    toy: {}
agent_a:
  responses_api_agents:
    simple_agent:
      resources_server: {type: resources_servers, name: env_a}
      model_server: {type: responses_api_models, name: policy_model}
      max_steps: 3
"""


def test_files_merge_left_to_right_then_env_yaml_then_set(tmp_path: Path) -> None:
    a = write(tmp_path, "a.yaml", AGENT)
    b = write(tmp_path, "b.yaml", "agent_a:\n  responses_api_agents:\n    simple_agent:\n      max_steps: 5\n")
    env = write(tmp_path, "env.yaml", "agent_a:\n  responses_api_agents:\n    simple_agent:\n      max_steps: 7\n")
    stack = load_config([a, b], model="scripted", env_file=env)
    assert stack.instance("agent_a").config.extra_fields()["max_steps"] == 7
    stack = load_config(
        [a, b], model="scripted", env_file=env, sets=["agent_a.responses_api_agents.simple_agent.max_steps=9"]
    )
    assert stack.instance("agent_a").config.extra_fields()["max_steps"] == 9
    # the reference survived the merge
    assert stack.instance("agent_a").config.extra_fields()["resources_server"] == {
        "type": "resources_servers",
        "name": "env_a",
    }


def test_openai_model_takes_its_values_from_env_yaml_and_masks_the_key(tmp_path: Path) -> None:
    env = write(
        tmp_path,
        "env.yaml",
        "policy_base_url: http://127.0.0.1:9/v1\npolicy_api_key: sk-very-secret\npolicy_model_name: m1\n",
    )
    stack = load_config([], model="openai", env_file=env)
    fields = stack.instance("policy_model").config.extra_fields()
    assert fields == {"base_url": "http://127.0.0.1:9/v1", "api_key": "sk-very-secret", "model": "m1"}
    shown = stack.to_yaml(mask_secrets=True)
    assert "sk-very-secret" not in shown
    assert MASK in shown
    assert "m1" in shown


def test_missing_required_value_names_the_variable_and_where(tmp_path: Path) -> None:
    env = write(tmp_path, "env.yaml", "policy_base_url: http://x\npolicy_model_name: m\n")
    with pytest.raises(ConfigError) as err:
        load_config([], model="openai", env_file=env)
    message = str(err.value)
    assert "policy_api_key" in message
    assert "openai.yaml:" in message


def test_unknown_reference_names_file_line_and_key(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", AGENT.replace("name: env_a}", "name: env_missing}"))
    with pytest.raises(ConfigError) as err:
        load_config([bad], model="scripted")
    message = str(err.value)
    assert f"{bad}:8" in message
    assert "agent_a.responses_api_agents.simple_agent.resources_server" in message
    assert "env_missing" in message


def test_reference_to_wrong_role_is_rejected(tmp_path: Path) -> None:
    bad = write(
        tmp_path,
        "bad.yaml",
        AGENT.replace("{type: resources_servers, name: env_a}", "{type: resources_servers, name: policy_model}"),
    )
    with pytest.raises(ConfigError, match="policy_model' is a responses_api_models instance"):
        load_config([bad], model="scripted")


def test_invalid_common_field_names_file_line_and_key(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "env_a:\n  resources_servers:\n    toy:\n      replicas: zero\n")
    with pytest.raises(ConfigError) as err:
        load_config([bad])
    assert f"{bad}:4: env_a.resources_servers.toy.replicas" in str(err.value)


def test_instance_with_two_implementations_is_rejected(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "x:\n  resources_servers:\n    a: {}\n    b: {}\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:2: x.resources_servers: expected exactly one"):
        load_config([bad])


def test_invalid_yaml_names_the_line(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", "a:\n  b: [1, 2\nc: 3\n")
    with pytest.raises(ConfigError, match=r"bad.yaml:\d+: invalid YAML"):
        load_config([bad])


def test_interpolation_keeps_types_and_detects_cycles(tmp_path: Path) -> None:
    cfg = write(tmp_path, "c.yaml", AGENT + "steps: 4\nname_prefix: run-${steps}\na: ${b}\nb: ${a}\n")
    with pytest.raises(ConfigError, match="cycle"):
        load_config([cfg], model="scripted")
    cfg.write_text(AGENT.replace("max_steps: 3", "max_steps: ${steps}") + "steps: 4\nlabel: run-${steps}\n")
    stack = load_config([cfg], model="scripted")
    assert stack.instance("agent_a").config.extra_fields()["max_steps"] == 4
    assert stack.variables["label"] == "run-4"


def test_undefined_interpolation_names_the_variable(tmp_path: Path) -> None:
    cfg = write(tmp_path, "c.yaml", "v: ${nowhere}\n")
    with pytest.raises(ConfigError, match=r"c.yaml:1: v: \$\{nowhere\} is not defined"):
        load_config([cfg])


def test_model_flag_replaces_a_file_policy_model(tmp_path: Path) -> None:
    cfg = write(
        tmp_path,
        "c.yaml",
        AGENT + "policy_model:\n  responses_api_models:\n    openai_model:\n      base_url: x\n      model: y\n",
    )
    assert load_config([cfg]).instance("policy_model").implementation == "openai_model"
    assert load_config([cfg], model="scripted").instance("policy_model").implementation == "scripted_model"


def test_unknown_model_and_no_config_are_clear_errors() -> None:
    with pytest.raises(ConfigError, match="scripted, openai, vllm"):
        load_config([], model="gpt5")
    with pytest.raises(ConfigError, match="no config given"):
        load_config([])


def test_default_ports_are_stable_and_distinct(tmp_path: Path) -> None:
    cfg = write(tmp_path, "a.yaml", AGENT)
    ports = {n: i.config.port for n, i in load_config([cfg], model="scripted").instances.items()}
    assert ports == {n: i.config.port for n, i in load_config([cfg], model="scripted").instances.items()}
    assert len(set(ports.values())) == 3


def test_resolved_config_round_trips(tmp_path: Path) -> None:
    cfg = write(tmp_path, "a.yaml", AGENT)
    stack = load_config([cfg], model="scripted")
    again = write(tmp_path, "resolved.yaml", stack.to_yaml())
    assert load_config([again]).to_dict() == stack.to_dict()


@pytest.mark.parametrize(
    ("key", "secret"),
    [
        ("api_key", True),
        ("policy_api_key", True),
        ("hf_token", True),
        ("db-password", True),
        ("client_secret", True),
        ("max_tokens", False),
        ("keyword", False),
        ("monkey", False),
    ],
)
def test_secret_key_names(key: str, secret: bool) -> None:
    assert is_secret_key(key) is secret


def test_set_without_equals_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"expected key\.path=value"):
        load_config([], model="scripted", sets=["a.b"])


def test_escaped_interpolation_is_literal_and_survives_a_round_trip(tmp_path: Path) -> None:
    from gymbox.config import escape_interpolation

    cfg = write(tmp_path, "c.yaml", "greeting: hello\ntemplate: 'say $${greeting} to ${greeting}'\n")
    stack = load_config([cfg])
    assert stack.variables["template"] == "say ${greeting} to hello"
    again = write(tmp_path, "again.yaml", f"template: '{escape_interpolation(stack.variables['template'])}'\n")
    assert load_config([again]).variables["template"] == "say ${greeting} to hello"


def test_a_later_file_can_switch_an_instance_to_another_implementation(tmp_path: Path) -> None:
    first = write(tmp_path, "a.yaml", "judge:\n  responses_api_models:\n    scripted_model:\n      default_reply: x\n")
    second = write(
        tmp_path,
        "b.yaml",
        "judge:\n  responses_api_models:\n    openai_model:\n      base_url: http://127.0.0.1:9/v1\n      model: m\n",
    )
    judge = load_config([first, second]).instance("judge")
    assert judge.implementation == "openai_model"
    assert judge.config.extra_fields() == {"base_url": "http://127.0.0.1:9/v1", "model": "m"}

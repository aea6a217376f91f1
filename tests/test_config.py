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


# ------------------------------------------------------------------------------------- roles and fields


def test_a_misspelt_role_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", AGENT.replace("  resources_servers:\n    toy", "  resource_servers:\n    toy"))
    with pytest.raises(ConfigError) as err:
        load_config([bad], model="scripted")
    assert f"{bad}:3: env_a.resource_servers: unknown role 'resource_servers'" in str(err.value)
    assert "did you mean 'resources_servers'?" in str(err.value)


def test_a_variable_that_merely_resembles_an_instance_is_still_a_variable(tmp_path: Path) -> None:
    cfg = write(tmp_path, "c.yaml", "groups:\n  colours:\n    red: {hex: f00}\n")
    assert load_config([cfg]).variables["groups"] == {"colours": {"red": {"hex": "f00"}}}


def test_a_reference_to_a_misspelt_instance_suggests_the_name(tmp_path: Path) -> None:
    bad = write(tmp_path, "bad.yaml", AGENT.replace("name: env_a}", "name: env_b}"))
    with pytest.raises(ConfigError, match="did you mean 'env_a'"):
        load_config([bad], model="scripted")


def test_roles_are_one_enum_and_compare_as_text(tmp_path: Path) -> None:
    from gymbox.roles import Role

    stack = load_config([write(tmp_path, "a.yaml", AGENT)], model="scripted")
    assert stack.instance("env_a").role is Role.RESOURCES_SERVERS
    assert stack.instance("env_a").role == "resources_servers"
    assert [i.name for i in stack.by_role(Role.RESPONSES_API_AGENTS)] == ["agent_a"]
    assert "responses_api_agents" in stack.to_yaml()  # the plain name, not the enum's repr


def test_server_refs_is_the_one_place_references_are_found() -> None:
    from gymbox.config import server_refs
    from gymbox.docker.render import references

    fields = {
        "a": {"type": "responses_api_models", "name": "m"},
        "datasets": [{"type": "train", "name": "x"}],  # a dataset, not a reference
        "deep": [{"judge": {"type": "sandboxes", "name": "box"}}],
    }
    assert [(path, ref.name) for path, ref in server_refs(fields)] == [(("a",), "m"), (("deep", "0", "judge"), "box")]
    assert references(fields) == ["m", "box"]


def _check(tmp_path: Path, text: str) -> None:
    from gymbox.registry import check_fields

    check_fields(load_config([write(tmp_path, "c.yaml", text)], model="scripted"), ROOT / "environments")


ROOT = Path(__file__).resolve().parent.parent
WEATHER_ENV = "env_a:\n  resources_servers:\n    example_single_tool_call: {}\n"


def test_a_misspelt_implementation_field_fails_at_load_time_with_file_line_and_suggestion(tmp_path: Path) -> None:
    text = WEATHER_ENV + AGENT.split("\n", 4)[4].replace("max_steps: 3", "max_stepz: 3")
    with pytest.raises(ConfigError) as err:
        _check(tmp_path, text)
    message = str(err.value)
    assert f"{tmp_path / 'c.yaml'}:9: agent_a.responses_api_agents.simple_agent.max_stepz: unknown field" in message
    assert "did you mean 'max_steps'?" in message


def test_a_misspelt_nested_field_gets_the_nested_models_suggestion(tmp_path: Path) -> None:
    text = "box:\n  sandboxes:\n    python_sandbox:\n      limits: {memory_mbb: 64}\n"
    with pytest.raises(
        ConfigError, match=r"c\.yaml:4: box\.sandboxes\.python_sandbox\.limits\.memory_mbb: .*'memory_mb'"
    ):
        _check(tmp_path, text)


def test_a_misspelt_environment_field_fails_too(tmp_path: Path) -> None:
    text = "env_a:\n  resources_servers:\n    example_single_tool_call:\n      session_ttl: 5\n"
    with pytest.raises(
        ConfigError, match=r"c\.yaml:4: .*session_ttl: unknown field \(did you mean 'session_ttl_s'\?\)"
    ):
        _check(tmp_path, text)


def test_an_unknown_builtin_implementation_is_named(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="unknown responses_api_agents implementation 'simpel_agent'"):
        _check(tmp_path, "a:\n  responses_api_agents:\n    simpel_agent: {}\n")


def test_gymbox_config_reports_a_field_typo(tmp_path: Path) -> None:
    from typer.testing import CliRunner

    from gymbox.cli import app

    cfg = write(tmp_path, "c.yaml", WEATHER_ENV + AGENT.split("\n", 4)[4].replace("max_steps: 3", "max_stepz: 3"))
    result = CliRunner().invoke(app, ["config", "-c", str(cfg), "-m", "scripted"])
    assert result.exit_code != 0
    assert "max_stepz" in str(result.exception or "") + result.output


# --------------------------------------------------------------------------------- NeMo Gym configs


NEMO_FIELDS = """
env_a:
  resources_servers:
    example_single_tool_call:
      domain: agent
      verified: false
      description: Weather
      value: Tool calling
agent_a:
  responses_api_agents:
    simple_agent:
      entrypoint: app.py
      license: Apache 2.0
      resources_server: {type: resources_servers, name: env_a}
      model_server: {type: responses_api_models, name: policy_model}
"""


def test_nemo_gym_descriptive_fields_are_accepted_kept_and_not_passed_on(tmp_path: Path) -> None:
    from gymbox.agents.simple_agent import SimpleAgentServer
    from gymbox.config import validate_fields

    stack = load_config([write(tmp_path, "c.yaml", NEMO_FIELDS)], model="scripted")
    _check(tmp_path, NEMO_FIELDS)  # no "Extra inputs are not permitted"
    agent = stack.instance("agent_a")
    assert agent.config.extra_fields()["entrypoint"] == "app.py"  # kept in the resolved config
    assert stack.to_dict()["env_a"]["resources_servers"]["example_single_tool_call"]["domain"] == "agent"
    config = validate_fields(agent, SimpleAgentServer.Config)
    assert not hasattr(config, "entrypoint")


def test_omegaconf_env_and_select_resolvers(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GYMBOX_TEST_SET", "from-env")
    monkeypatch.delenv("GYMBOX_TEST_UNSET", raising=False)
    cfg = write(
        tmp_path,
        "c.yaml",
        "steps: 4\n"
        "nested: {x: 7}\n"
        "a: ${oc.env:GYMBOX_TEST_SET}\n"
        "b: ${oc.env:GYMBOX_TEST_UNSET,fallback}\n"
        "c: ${oc.env:GYMBOX_TEST_UNSET,null}\n"
        "d: ${oc.select:nested.x,1}\n"
        "e: ${oc.select:nowhere,1}\n"
        "f: ${oc.select:nowhere}\n"
        "g: run-${oc.select:steps,0}-${oc.env:GYMBOX_TEST_UNSET,'x y'}\n"
        "h: ${env:GYMBOX_TEST_UNSET,8080}\n",
    )
    v = load_config([cfg]).variables
    assert (v["a"], v["b"], v["c"], v["d"], v["e"], v["f"]) == ("from-env", "fallback", None, 7, 1, None)
    assert v["g"] == "run-4-x y"
    assert v["h"] == "8080"  # an environment variable's default is text, as in OmegaConf


def test_an_unset_env_variable_without_default_and_an_unknown_resolver_are_errors(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"c\.yaml:2: b: environment variable GYMBOX_TEST_NOPE is not set"):
        load_config([write(tmp_path, "c.yaml", "a: 1\nb: ${oc.env:GYMBOX_TEST_NOPE}\n")])
    with pytest.raises(ConfigError, match=r"c\.yaml:1: a: unknown resolver 'oc.decode'"):
        load_config([write(tmp_path, "c.yaml", "a: ${oc.decode:'1'}\n")])


def test_text_that_is_not_an_interpolation_stays_literal(tmp_path: Path) -> None:
    cfg = write(tmp_path, "c.yaml", "pattern: 'a${1,3}'\n")
    assert load_config([cfg]).variables["pattern"] == "a${1,3}"


@pytest.mark.parametrize("prefix", ["", "+", "++"])
def test_hydra_style_overrides(tmp_path: Path, prefix: str) -> None:
    cfg = write(tmp_path, "a.yaml", AGENT)
    stack = load_config(
        [cfg],
        model="scripted",
        sets=[f"{prefix}agent_a.responses_api_agents.simple_agent.max_steps=9", f"{prefix}new=1"],
    )
    assert stack.instance("agent_a").config.extra_fields()["max_steps"] == 9
    assert stack.variables["new"] == 1


def test_a_tilde_override_deletes_a_key(tmp_path: Path) -> None:
    cfg = write(tmp_path, "a.yaml", AGENT + "extra: 1\n")
    stack = load_config(
        [cfg], model="scripted", sets=["~agent_a.responses_api_agents.simple_agent.max_steps", "~extra"]
    )
    assert "max_steps" not in stack.instance("agent_a").config.extra_fields()
    assert "extra" not in stack.variables
    with pytest.raises(ConfigError, match=r"~nowhere: nowhere is not in the config"):
        load_config([cfg], model="scripted", sets=["~nowhere"])


# ------------------------------------------------------------------------------------------- secrets


def test_credentials_inside_a_url_are_refused_and_never_shown(tmp_path: Path) -> None:
    env = write(tmp_path, "env.yaml", "policy_base_url: https://me:tok-very-secret@llm.example/v1\n")
    env.write_text(env.read_text() + "policy_api_key: k\npolicy_model_name: m\n")
    with pytest.raises(ConfigError) as err:
        load_config([], model="openai", env_file=env)
    message = str(err.value)
    assert "tok-very-secret" not in message
    assert "https://****@llm.example/v1" in message
    assert f"{env}:1" in message
    assert "api_key" in message


def test_mask_url() -> None:
    from gymbox.config import mask_url

    assert mask_url("https://user:tok@host:8000/v1?x=1") == "https://****@host:8000/v1?x=1"
    assert mask_url("https://host/v1#a@b") == "https://host/v1#a@b"


def test_serving_one_instance_needs_only_its_own_environment_variables(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = write(
        tmp_path,
        "c.yaml",
        AGENT + "judge:\n  responses_api_models:\n    openai_model:\n"
        "      base_url: http://127.0.0.1:9/v1\n      model: m\n      api_key: ${env:GYMBOX_TEST_JUDGE_KEY}\n",
    )
    monkeypatch.delenv("GYMBOX_TEST_JUDGE_KEY", raising=False)
    with pytest.raises(ConfigError, match="GYMBOX_TEST_JUDGE_KEY is not set"):
        load_config([cfg], model="scripted")
    with pytest.raises(ConfigError, match="GYMBOX_TEST_JUDGE_KEY is not set"):
        load_config([cfg], model="scripted", serving="judge")
    stack = load_config([cfg], model="scripted", serving="agent_a")
    assert stack.instance("agent_a").config.extra_fields()["max_steps"] == 3


def test_the_cli_takes_hydra_overrides_as_trailing_arguments(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import yaml
    from typer.testing import CliRunner

    from gymbox.cli import app

    monkeypatch.setenv("GYMBOX_ENVIRONMENTS_DIR", str(ROOT / "tests/fixtures/environments"))  # holds `toy`
    cfg = write(tmp_path, "a.yaml", AGENT)
    args = ["config", "-c", str(cfg), "-m", "scripted", "--set", "x=1"]
    result = CliRunner().invoke(app, [*args, "+agent_a.responses_api_agents.simple_agent.max_steps=5", "++y=2", "~x"])
    assert result.exit_code == 0, result.output
    shown = yaml.safe_load(result.stdout)
    assert shown["agent_a"]["responses_api_agents"]["simple_agent"]["max_steps"] == 5
    assert shown["y"] == 2
    assert "x" not in shown


def test_a_misspelt_environment_name_is_named_with_a_suggestion(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as err:
        _check(tmp_path, "env_a:\n  resources_servers:\n    example_single_tool_cal: {}\n")
    message = str(err.value)
    assert f"{tmp_path / 'c.yaml'}:3: env_a.resources_servers.example_single_tool_cal: no environment" in message
    assert "did you mean 'example_single_tool_call'?" in message

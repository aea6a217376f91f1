"""Judges replayed from a recording: replay_model answers a verifier's judge calls with the recorded ones
(matched by input, over Responses and Chat Completions) or with the recorded judge text of the episode
played last; the conformance harness runs such servers with their model references at replay_model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gymbox.config import load_config
from gymbox.docker.render import container_stack
from gymbox.model_servers.replay_model import ReplayModelConfig, ReplayModelServer
from gymbox.nemo.conformance import ServerResult, markdown_table, release_cases, servers_config
from gymbox.nemo.runtime import nemo_config_dict
from gymbox.nemo.servers import nemo_server
from gymbox.testing import serve_app

VERSION = "0.4.0"
JUDGE_PROMPT = "Is 4 the same answer as four? Say [[A=B]] or [[A!=B]]."


def _message(role: str, text: str) -> dict[str, Any]:
    return {"type": "message", "role": role, "content": [{"type": "output_text", "text": text, "annotations": []}]}


def _rollout(question: str, answer: str, reward: float, **judge: Any) -> dict[str, Any]:
    return {
        "responses_create_params": {"input": [{"role": "user", "content": question}]},
        "response": {"id": "resp_1", "output": [_message("assistant", answer)], "status": "completed"},
        "reward": reward,
        **judge,
    }


def _judge_call(prompt: str, verdict: str) -> dict[str, Any]:
    return {
        "responses_create_params": {"input": [{"role": "user", "content": prompt, "type": "message"}]},
        "response": {"id": "resp_judge", "output": [_message("assistant", verdict)], "status": "completed"},
    }


def _write(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _text(response: dict[str, Any]) -> str:
    return str(response["output"][0]["content"][0]["text"])


def test_recorded_judge_calls_are_played_by_their_input_over_both_apis(tmp_path: Path) -> None:
    row = _rollout("What is 2 + 2?", "four", 1.0, judge_evaluations=[_judge_call(JUDGE_PROMPT, "[[A=B]]")])
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(_write(tmp_path / "r.jsonl", [row]))))

    with serve_app(server.build_app()) as url:
        policy = httpx.post(f"{url}/v1/responses", json={"input": "What is 2 + 2?"}).json()
        judge = httpx.post(f"{url}/v1/responses", json={"input": [{"role": "user", "content": JUDGE_PROMPT}]})
        chat = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": JUDGE_PROMPT}]})
        other = httpx.post(f"{url}/v1/responses", json={"input": "Is 5 the same answer as five?"})

    assert _text(policy) == "four"
    assert judge.status_code == 200
    assert _text(judge.json()) == "[[A=B]]"
    assert chat.status_code == 200
    assert chat.json()["choices"][0]["message"]["content"] == "[[A=B]]"
    # A prompt the verifier builds differently from the recording's finds nothing: a 404, not a guess.
    assert other.status_code == 404


def test_a_recorded_judge_text_answers_for_the_episode_played_last_once(tmp_path: Path) -> None:
    rows = [
        _rollout("Capital of France?", "Paris", 1.0, judge_output="The grade is A."),
        _rollout("Capital of Peru?", "Quito", 0.0, judge_output="The grade is B."),
    ]
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(_write(tmp_path / "r.jsonl", rows))))
    judge = {"messages": [{"role": "user", "content": "Grade this answer: ..."}]}

    with serve_app(server.build_app()) as url:
        before = httpx.post(f"{url}/v1/chat/completions", json=judge)
        httpx.post(f"{url}/v1/responses", json={"input": "Capital of Peru?"}).raise_for_status()
        peru = httpx.post(f"{url}/v1/chat/completions", json=judge)
        again = httpx.post(f"{url}/v1/chat/completions", json=judge)
        httpx.post(f"{url}/v1/responses", json={"input": "Capital of France?"}).raise_for_status()
        france = httpx.post(f"{url}/v1/responses", json={"input": "Grade this answer: ..."})

    assert before.status_code == 404  # no episode played yet
    assert peru.json()["choices"][0]["message"]["content"] == "The grade is B."
    assert again.status_code == 404  # each recorded text answers once
    assert _text(france.json()) == "The grade is A."


# ------------------------------------------------------------------------------- the harness


def _server(root: Path, name: str, fields: dict[str, Any], rows: list[dict[str, Any]], code: str = "") -> None:
    folder = root / "resources_servers" / name
    (folder / "configs").mkdir(parents=True)
    (folder / "app.py").write_text(code or "print('a NeMo server')\n")
    config = {name: {"resources_servers": {name: {"entrypoint": "app.py", **fields}}}}
    (folder / "configs" / f"{name}.yaml").write_text(yaml.safe_dump(config))
    _write(folder / "data" / "example_rollouts.jsonl", rows)


@pytest.fixture
def release(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A nemo-gym release as the cache holds it, with three judge servers and one that runs Ray tasks."""
    monkeypatch.setenv("GYMBOX_CACHE_DIR", str(tmp_path / "cache"))
    root = tmp_path / "cache" / "nemo-gym" / VERSION
    (root / "nemo_gym").mkdir(parents=True)
    judge = {"judge_model_server": {"type": "responses_api_models", "name": "judge_model"}, "max_output_tokens": 64}
    call = _judge_call(JUDGE_PROMPT, "[[A=B]]")
    _server(root, "by_calls", judge, [_rollout("q", "a", 1.0, judge_evaluations=[call])])
    _server(root, "by_text", judge, [_rollout("q", "a", 1.0, judge_output="A")])
    _server(root, "unrecorded", judge, [_rollout("q", "a", 1.0)])
    _server(root, "ray_tasks", {}, [_rollout("q", "a", 1.0)], code="import ray\n\n@ray.remote\ndef f(): ...\n")
    return root


def test_judge_servers_run_when_their_recording_answers_for_the_judge(release: Path) -> None:
    cases = {c.name: c for c in release_cases(VERSION)}

    assert (cases["by_calls"].skip, cases["by_calls"].judged) == ("", "calls")
    assert (cases["by_text"].skip, cases["by_text"].judged) == ("", "text")
    assert cases["by_calls"].models == ["judge_model"]
    assert cases["unrecorded"].skip == "needs a judge; its recording lacks the judge's answers"
    table = markdown_table([ServerResult("by_text", True, True, 1, 1, judged="text")])
    assert "| `by_text` | yes | yes | 1 | 1/1 | judge replayed from its recorded text |" in table


def test_requirements_are_read_where_ng_run_reads_them_pyproject_toml_too(release: Path) -> None:
    _server(release, "pyproject_git", {}, [_rollout("q", "a", 1.0)])
    (release / "resources_servers" / "pyproject_git" / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["tool @ git+https://example.invalid/tool.git"]\n'
    )
    _server(release, "pyproject_pypi", {}, [_rollout("q", "a", 1.0)])
    (release / "resources_servers" / "pyproject_pypi" / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["numpy>=1.26"]\n'
    )
    cases = {c.name: c for c in release_cases(VERSION, ["pyproject_git", "pyproject_pypi"])}

    assert cases["pyproject_git"].skip == "a requirement from outside PyPI (git or URL)"
    assert cases["pyproject_pypi"].skip == ""


def test_a_judge_reference_reaches_replay_model_and_ray_task_servers_run_their_own_ray(
    release: Path, tmp_path: Path
) -> None:
    cases = [c for c in release_cases(VERSION) if c.name in ("by_calls", "ray_tasks")]
    config_file = tmp_path / "servers.yaml"
    config_file.write_text(yaml.safe_dump(servers_config(cases, VERSION, "http://172.17.0.1:4567")))
    stack = container_stack(load_config([config_file], env_file=Path("/dev/null")))

    judged = nemo_config_dict(stack, "by_calls", {})
    ray_tasks = nemo_config_dict(stack, "ray_tasks", {})

    # NeMo's server client dials http://host:port of the instance its judge_model_server names.
    assert judged["judge_model"]["responses_api_models"]["replay_model"]["host"] == "172.17.0.1"
    assert judged["judge_model"]["responses_api_models"]["replay_model"]["port"] == 4567
    assert judged["ray_head_node_address"].startswith("ray://")  # the stack's shared Ray head
    # Its tasks need its own folder and Python, which only its container has: no shared head.
    assert "ray_head_node_address" not in ray_tasks


def test_a_task_row_from_a_recording_keeps_only_the_fields_data_rows_have(release: Path) -> None:
    from gymbox.nemo.conformance import task_rows

    folder = release / "resources_servers" / "by_text"
    (folder / "data" / "example.jsonl").write_text(
        json.dumps({"responses_create_params": {"input": "another task"}, "expected_answer": "B"}) + "\n"
    )
    _write(folder / "data" / "example_rollouts.jsonl", [_rollout("q", "a", 1.0, expected_answer="A", verdict="ok")])
    (case,) = release_cases(VERSION, ["by_text"])

    (row,) = task_rows(case)

    # `verdict` is the verifier's answer, which a verifier adding its own (`**body, verdict=...`) rejects.
    assert row == {"responses_create_params": {"input": [{"role": "user", "content": "q"}]}, "expected_answer": "A"}


def test_a_recorded_judge_prompt_gets_its_recorded_text(tmp_path: Path) -> None:
    rubric = [{"judge_prompt": "Does it name Paris?", "judge_response": '{"result": "PASS"}'}]
    row = _rollout("Capital of France?", "Paris", 1.0, rubric_evaluations=rubric)
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(_write(tmp_path / "r.jsonl", [row]))))
    judge = [{"role": "system", "content": "You grade answers."}, {"role": "user", "content": "Does it name Paris?"}]

    with serve_app(server.build_app()) as url:
        answers = [httpx.post(f"{url}/v1/responses", json={"input": judge}) for _ in range(2)]
        other = httpx.post(f"{url}/v1/responses", json={"input": [{"role": "user", "content": "Does it name Rome?"}]})

    # Matched by the prompt alone (the row does not hold the system message), as often as it is asked.
    assert [_text(a.json()) for a in answers] == ['{"result": "PASS"}'] * 2
    assert other.status_code == 404


# ------------------------------------------------------------------- servers driven by NeMo's own agents

BOARD = "Board: P_O"


def _gym_rollout(seed: int, moves: list[str], reward: float) -> dict[str, Any]:
    """A NeMo gymnasium_agent recording: its input holds the first observation, its output the model's
    moves with each later observation as a user message between them."""
    output: list[dict[str, Any]] = []
    for number, move in enumerate(moves):
        if number:
            output.append({"role": "user", "content": f"Board after {number} move(s)", "type": "message"})
        output.append(_message("assistant", move))
    task = [{"role": "user", "content": "Solve it."}]
    return {
        "responses_create_params": {"input": [*task, {"role": "user", "content": BOARD, "type": "message"}]},
        "response": {"id": "resp_1", "output": output, "status": "completed"},
        "reward": reward,
        "_ng_task_index": seed - 1,
    }


@pytest.fixture
def gym_release(release: Path) -> Path:
    """The release fixture plus a gymnasium-style server whose config drives it with NeMo's gymnasium_agent."""
    _server(release, "gym_env", {"domain": "games"}, [_gym_rollout(2, ["<a>Left</a>", "<a>Up</a>"], 1.0)])
    folder = release / "resources_servers" / "gym_env"
    _write(
        folder / "data" / "example.jsonl",
        [{"seed": s, "responses_create_params": {"input": "Solve it."}} for s in (1, 2)],
    )
    config = yaml.safe_load((folder / "configs" / "gym_env.yaml").read_text())
    agent = {
        "entrypoint": "app.py",
        "resources_server": {"type": "resources_servers", "name": "gym_env"},
        "model_server": {"type": "responses_api_models", "name": "policy_model"},
        "max_steps": 7,
    }
    config["gym_env_gymnasium_agent"] = {"responses_api_agents": {"gymnasium_agent": agent}}
    (folder / "configs" / "gym_env.yaml").write_text(yaml.safe_dump(config))
    (release / "responses_api_agents" / "gymnasium_agent").mkdir(parents=True)
    (release / "responses_api_agents" / "gymnasium_agent" / "app.py").write_text("print('NeMo agent')\n")
    _server(release, "other_agent", {}, [_rollout("q", "a", 1.0)])
    other = release / "resources_servers" / "other_agent" / "configs" / "other_agent.yaml"
    config = yaml.safe_load(other.read_text())
    config["its_agent"] = {"responses_api_agents": {"not_shipped_agent": {"entrypoint": "app.py"}}}
    other.write_text(yaml.safe_dump(config))
    return release


def test_a_server_driven_by_nemos_agent_runs_with_it_in_the_stack_at_the_replay_model(
    gym_release: Path, tmp_path: Path
) -> None:
    cases = {c.name: c for c in release_cases(VERSION)}
    case = cases["gym_env"]
    case.agent_port = 18555
    config_file = tmp_path / "servers.yaml"
    config_file.write_text(yaml.safe_dump(servers_config([case], VERSION, "http://172.17.0.1:4567", head_port=11555)))
    config = load_config([config_file], env_file=Path("/dev/null"))
    agent = nemo_config_dict(container_stack(config), "gym_env_agent", {})

    assert (case.skip, case.agent) == ("", "gymnasium_agent")
    assert cases["other_agent"].skip == "driven by NeMo's own not_shipped_agent, which this release does not ship"
    # NeMo's own agent, with the config's fields, published on its host port for `gymbox rollout --url`.
    assert config.instances["gym_env_agent"].config.port == 18555
    assert config.variables["head_server"] == {"port": 11555}
    fields = agent["gym_env_agent"]["responses_api_agents"]["gymnasium_agent"]
    assert fields["max_steps"] == 7
    assert (
        nemo_server(config.instances["gym_env_agent"]).folder
        == gym_release / "responses_api_agents" / "gymnasium_agent"
    )
    assert fields["resources_server"] == {"type": "resources_servers", "name": "gym_env"}
    # Its model is replay_model outside the stack, dialled at the URL's host and port.
    assert fields["model_server"] == {"type": "responses_api_models", "name": "replay_policy"}
    replay = agent["replay_policy"]["responses_api_models"]["replay_model"]
    assert (replay["host"], replay["port"]) == ("172.17.0.1", 4567)


def test_a_recording_whose_input_holds_the_first_observation_is_played_from_its_indexed_data_row(
    gym_release: Path, tmp_path: Path
) -> None:
    from gymbox.nemo.conformance import task_rows

    (case,) = release_cases(VERSION, ["gym_env"])
    (row,) = task_rows(case)
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(case.folder / "data" / "example_rollouts.jsonl")))
    first = [{"role": "user", "content": "Solve it."}, {"role": "user", "content": BOARD}]

    with serve_app(server.build_app()) as url:
        move_1 = httpx.post(f"{url}/v1/responses", json={"input": first}).json()
        after = [*first, *move_1["output"], {"role": "user", "content": "Board after 1 move(s)"}]
        move_2 = httpx.post(f"{url}/v1/responses", json={"input": after}).json()

    # The data row its _ng_task_index names (its seed), which the agent sends before any observation.
    assert row["seed"] == 2
    # Each step's observation (a user message) ends a model turn: one move per call, as recorded.
    assert [_text(move_1), _text(move_2)] == ["<a>Left</a>", "<a>Up</a>"]


def test_rows_that_left_their_recording_are_reported_as_such(tmp_path: Path) -> None:
    from gymbox.nemo.conformance import _failed

    error = "agent answered 500: replay_model: no recorded rollout has this input (first user message: 'Deal me in.')"
    failures = _write(tmp_path / "blackjack_rollouts_failures.jsonl", [{"status": "infra_error", "error": error}] * 2)

    # An environment that deals at random (blackjack) gives an observation no recording has.
    assert _failed(failures) == (
        "2 row(s) failed: the model was asked with an input no recording has "
        "(the environment answered otherwise than recorded)"
    )

"""replay_model plays recorded rollouts back through gymbox's agent with the tools running live, and
`gymbox reverify` checks recorded rewards again; both on a real environment served in-process."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from gymbox.cli.reverify_cmd import reverify_rows
from gymbox.config import load_config
from gymbox.model_servers.replay_model import (
    ReplayModelConfig,
    ReplayModelServer,
    split_turns,
    turns_played,
)
from gymbox.nemo.conformance import ServerCase, compare
from gymbox.testing import running_stack, serve_app

ROOT = Path(__file__).resolve().parents[1]
WEATHER = ROOT / "environments" / "example_single_tool_call"
TOOLS = [{"type": "function", "name": "get_weather", "parameters": {"type": "object"}}]


def _weather(city: str) -> str:
    import hashlib

    kinds = ("sunny", "cloudy", "rainy", "windy", "snowy", "foggy", "cold", "hot")
    return kinds[hashlib.sha256(" ".join(city.split()).casefold().encode()).digest()[0] % len(kinds)]


def recorded(
    city: str, answer: str, reward: float, *, typed_messages: bool = True, thought: str = "look it up"
) -> dict[str, Any]:
    """A rollout as NeMo Gym records it: one tool call, its output, then the answer."""
    message: dict[str, Any] = {"role": "user", "content": f"weather in {city}?"}
    if typed_messages:
        message["type"] = "message"
    call = {"type": "function_call", "id": "fc_1", "call_id": "call_1", "name": "get_weather"}
    call["arguments"] = json.dumps({"city": city})
    output = [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": thought}]},
        call,
        {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
        {
            "type": "message",
            "id": "msg_1",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": answer, "annotations": []}],
        },
    ]
    return {
        "responses_create_params": {"input": [message], "tools": TOOLS},
        "response": {"id": "resp_1", "output": output, "status": "completed"},
        "reward": reward,
    }


def test_turns_end_where_tool_outputs_begin() -> None:
    output = recorded("Paris", "x", 1.0)["response"]["output"]

    turns = split_turns(output)

    assert [[item["type"] for item in turn] for turn in turns] == [["reasoning", "function_call"], ["message"]]
    assert turns_played([]) == 0
    assert turns_played(output[:3]) == 1
    assert turns_played(output) == 2


@pytest.fixture
def rollouts(tmp_path: Path) -> Path:
    rows = [
        recorded("Paris", f"It is {_weather('Paris')} in Paris.", 1.0),
        recorded("Oslo", "It is lovely in Oslo.", 0.0),  # names no weather: 0, and recorded as 0
        recorded("Rome", "It is lovely in Rome.", 1.0),  # recorded 1, but this environment gives 0
    ]
    path = tmp_path / "example_rollouts.jsonl"
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def _stack_config(tmp_path: Path, rollouts: Path) -> Path:
    config = {
        "weather": {"resources_servers": {"example_single_tool_call": {}}},
        "weather_agent": {
            "responses_api_agents": {
                "simple_agent": {
                    "resources_server": {"type": "resources_servers", "name": "weather"},
                    "model_server": {"type": "responses_api_models", "name": "replay"},
                }
            }
        },
        "replay": {"responses_api_models": {"replay_model": {"rollouts": str(rollouts)}}},
    }
    path = tmp_path / "stack.yaml"
    path.write_text(yaml.safe_dump(config))
    return path


def test_a_replayed_episode_runs_the_tools_live_and_is_verified_again(
    tmp_path: Path, rollouts: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GYMBOX_ENVIRONMENTS_DIR", str(ROOT / "environments"))
    stack = load_config([_stack_config(tmp_path, rollouts)], assign_ports=False)
    # Data rows spell messages without "type": they still match their recordings.
    rows = [recorded(c, "", 0.0, typed_messages=False)["responses_create_params"] for c in ("Paris", "Oslo", "Rome")]

    with running_stack(stack) as urls:
        results = [
            httpx.post(f"{urls['weather_agent']}/run", json={"responses_create_params": r}, timeout=30).json()
            for r in rows
        ]

    assert [r["reward"] for r in results] == [1.0, 0.0, 0.0]
    first = results[0]["response"]["output"]
    assert [i["type"] for i in first] == ["reasoning", "function_call", "function_call_output", "message"]
    assert json.loads(first[2]["output"])["weather"] == _weather("Paris")  # the live tool's answer
    case = ServerCase("weather", rollouts.parent)
    (rollouts.parent / "data").mkdir()
    rollouts.rename(rollouts.parent / "data" / "example_rollouts.jsonl")
    assert compare(case, results) == (3, 2)  # Rome's recorded 1.0 is not reproduced


def test_an_input_no_recording_has_is_a_404_naming_it(rollouts: Path) -> None:
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(rollouts)))

    with serve_app(server.build_app()) as url:
        answer = httpx.post(f"{url}/v1/responses", json={"input": "what is 2 + 2?"})

    assert answer.status_code == 404
    assert "what is 2 + 2?" in answer.json()["error"]["message"]


def test_recordings_of_one_input_are_played_in_turn(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    rows = [recorded("Paris", "first", 1.0, thought="one"), recorded("Paris", "second", 0.0, thought="two")]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(path)))
    start = rows[0]["responses_create_params"]["input"]

    def answer_of(episode_first_turn: dict[str, Any]) -> str:
        items = [
            *start,
            *episode_first_turn["output"],
            {"type": "function_call_output", "call_id": "call_1", "output": "{}"},
        ]
        return str(server.respond({"input": items})["output"][0]["content"][0]["text"])

    first, second = server.respond({"input": start}), server.respond({"input": start})

    # Each new episode takes the next recording; its later turns stay with the row its first turn came from.
    assert answer_of(second) == "second"
    assert answer_of(first) == "first"
    assert answer_of(server.respond({"input": start})) == "first"  # round robin: the first recording again


def test_reverify_reports_the_rows_whose_reward_differs(rollouts: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from gymbox.registry import load_environment

    server_class = load_environment("example_single_tool_call", WEATHER)
    rows = [(f"{rollouts}:{n}", json.loads(line)) for n, line in enumerate(rollouts.read_text().splitlines(), 1)]

    with serve_app(server_class().build_app()) as url:
        report = asyncio.run(reverify_rows(rows, url))

    # The recorded response alone, without its tool calls run again: this environment's state says no
    # weather was reported, so every reward is 0. Paris and Rome differ from their recordings.
    assert (report.rows, report.matched) == (3, 1)
    assert [d.source.rsplit(":", 1)[1] for d in report.differences] == ["1", "3"]
    assert all(d.got == 0.0 for d in report.differences)


def test_inputs_match_by_text_and_images_tell_them_apart() -> None:
    from gymbox.model_servers.replay_model import input_key

    def asked(*parts: dict[str, Any]) -> list[dict[str, Any]]:
        return [{"type": "message", "role": "user", "content": list(parts)}]

    text = {"type": "input_text", "text": "How many circles?"}
    assert input_key([{"role": "user", "content": "How many circles?"}]) == input_key(asked(text))
    one = asked(text, {"type": "input_image", "image_url": "data:image/png;base64,AAAA"})
    other = asked(text, {"type": "input_image", "image_url": "data:image/png;base64,BBBB"})
    assert input_key(one) != input_key(other)


def test_a_first_observation_recorded_in_the_output_is_input_and_an_empty_input_answers_nothing(
    tmp_path: Path,
) -> None:
    """A recording with an empty input matched every request: replaying the whole nemo-gym release, aviary's
    rows (input `[]`) answered the abstention judge's requests with their own turns instead of the judge
    text recorded with the episode being judged. An agent may also record its first observation at the
    head of the output: that observation is then what the recording is matched by."""
    from gymbox.model_servers.openai_app import ModelServerError

    def said(role: str, text: str) -> dict[str, Any]:
        if role == "assistant":
            return {"type": "message", "role": role, "content": [{"type": "output_text", "text": text}]}
        return {"type": "message", "role": role, "content": text}

    judged = {  # a judge server's recording that holds only the judge's text
        "responses_create_params": {"input": [said("user", "Who wrote Hamlet?")]},
        "response": {"output": [said("assistant", "Shakespeare")]},
        "judge_output": "A",
    }
    observed = {
        "responses_create_params": {"input": []},
        "response": {"output": [said("user", "You see a door."), said("assistant", "open the door")]},
    }
    blank = {"responses_create_params": {"input": []}, "response": {"output": [said("assistant", "anything")]}}
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in (judged, observed, blank)))
    server = ReplayModelServer(ReplayModelConfig(rollouts=str(path)))

    def text(params: dict[str, Any]) -> str:
        return str(server.respond(params)["output"][0]["content"][0]["text"])

    assert text({"input": [said("user", "Who wrote Hamlet?")]}) == "Shakespeare"
    assert text({"input": [said("user", "Is 'Shakespeare' right for: Who wrote Hamlet?")]}) == "A"
    assert text({"input": [said("user", "You see a door.")]}) == "open the door"
    with pytest.raises(ModelServerError) as unknown:
        server.respond({"input": [said("user", "Is 'Paris' right for: capital of France?")]})
    assert unknown.value.status_code == 404

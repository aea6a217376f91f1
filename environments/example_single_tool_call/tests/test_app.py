"""example_single_tool_call, run for real: the example rows as whole rollouts, the tool, and bad input.

A module fixture serves the environment's configs with gymbox's scripted model (`environment_stack`): the
resources server, simple_agent and the model, as uvicorn servers on 127.0.0.1. Rollouts go through the
agent's `POST /run`; tool checks talk to the resources server. The tests are plain sync functions, so they
need no pytest plugin or config and run the same on the host and inside the environment's image.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymbox.protocol import RunRequest
from gymbox.registry import load_environment
from gymbox.testing import environment_fixtures, final_answer, read_rows, tool_calls, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
SERVER = load_environment("example_single_tool_call", ENV_DIR)
WEATHER_KINDS = sys.modules[SERVER.__module__].WEATHER_KINDS
weather_for = sys.modules[SERVER.__module__].weather_for
Rollout = Callable[[dict[str, Any]], dict[str, Any]]
ROWS = read_rows(ENV_DIR / "data" / "example.jsonl")


env, rollout, episode = environment_fixtures(ENV_DIR)


# ------------------------------------------------------------------ the data


def test_data_has_five_valid_rows() -> None:
    assert len(ROWS) == 5
    for row in ROWS:
        RunRequest.model_validate(row)
        assert row["responses_create_params"]["tools"] == SERVER.tool_definitions()
        assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= 512


@pytest.mark.parametrize("row", ROWS[:4], ids=[str(row["id"]) for row in ROWS[:4]])
def test_each_row_calls_the_tool_answers_with_its_result_and_earns_1(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    calls = tool_calls(result)
    answer = final_answer(result)
    prompt = row["responses_create_params"]["input"][0]["content"]
    assert calls
    for name, arguments, output in calls:
        assert name == "get_weather"
        assert arguments["city"].casefold() in prompt.casefold()
        assert output["city"] == arguments["city"]
        assert re.search(rf"\b{output['weather']}\b", answer), f"{answer!r} does not give {output}"
        assert output["city"] in answer
    assert result["reward"] == 1.0
    assert result["id"] == row["id"]  # task fields travel through verify


def test_row_4_calls_the_tool_but_answers_from_its_own_guess_and_earns_0(rollout: Rollout) -> None:
    result = rollout(ROWS[4])
    [(name, arguments, output)] = tool_calls(result)
    assert (name, arguments["city"]) == ("get_weather", "Nairobi")
    assert not re.search(rf"\b{output['weather']}\b", final_answer(result), re.IGNORECASE)
    assert result["status"] == "ok"
    assert result["reward"] == 0.0


def test_a_rollout_that_never_calls_the_tool_earns_0(rollout: Rollout) -> None:
    result = rollout(with_script(ROWS[0], {"say": "No idea, look out of the window."}))
    assert tool_calls(result) == []
    assert result["reward"] == 0.0


def test_an_answer_must_name_every_weather_it_looked_up(rollout: Rollout) -> None:
    oslo, lisbon = weather_for("Oslo"), weather_for("Lisbon")
    calls = {
        "calls": [
            {"name": "get_weather", "arguments": {"city": "Oslo"}},
            {"name": "get_weather", "arguments": {"city": "Lisbon"}},
        ]
    }
    half = rollout(with_script(ROWS[2], calls, {"say": f"Oslo is {oslo}."}))
    both = rollout(with_script(ROWS[2], calls, {"say": f"OSLO: {oslo.upper()}. Lisbon: {lisbon}."}))
    assert (half["reward"], both["reward"]) == (0.0, 1.0)  # case does not matter; a missing city does


# ------------------------------------------------------------------ the tool


def test_get_weather_is_deterministic_per_city(episode: httpx.Client) -> None:
    paris = episode.post("/get_weather", json={"city": "Paris"}).json()
    again = episode.post("/get_weather", json={"city": "  paris "}).json()
    cities = ["Paris", "Tokyo", "Oslo", "Lisbon", "New York", "Nairobi", "Lima", "Cairo"]
    kinds = {episode.post("/get_weather", json={"city": city}).json()["weather"] for city in cities}
    assert paris["city"] == "Paris"
    assert paris["weather"] in WEATHER_KINDS
    assert again == {"city": "paris", "weather": paris["weather"]}
    assert len(kinds) > 1, "different cities should not all share one weather"


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize("arguments", [{}, {"town": "Paris"}, {"city": 12}, {"city": "   "}, {"city": None}])
def test_bad_arguments_answer_4xx_naming_the_field(episode: httpx.Client, arguments: dict[str, Any]) -> None:
    answer = episode.post("/get_weather", json=arguments)
    assert 400 <= answer.status_code < 500
    assert "city:" in answer.json()["error"]


@pytest.mark.parametrize("route", ["get_weather", "seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b"city=Paris", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")

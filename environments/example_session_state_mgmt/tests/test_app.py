"""example_session_state_mgmt, run for real: the example rows as whole rollouts, the counter, per-episode
isolation under 50 concurrent rollouts, the verifier, and bad input.

A module fixture serves the environment's configs with gymbox's scripted model (`environment_stack`): the
resources server, simple_agent and the model, as uvicorn servers on 127.0.0.1. Rollouts go through the
agent's `POST /run`; tool checks talk to the resources server. The tests are plain sync functions, so they
need no pytest plugin or config and run the same on the host and inside the environment's image.
"""

from __future__ import annotations

from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymbox.protocol import RunRequest
from gymbox.registry import load_environment
from gymbox.testing import EnvironmentStack, environment_fixtures, final_answer, read_rows, tool_calls, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
SERVER = load_environment("example_session_state_mgmt", ENV_DIR)
Rollout = Callable[[dict[str, Any]], dict[str, Any]]
ROWS = read_rows(ENV_DIR / "data" / "example.jsonl")
READ = {"calls": [{"name": "get_counter_value", "arguments": {}}]}


def task(initial_count: int, expected_count: int) -> dict[str, Any]:
    return {
        "responses_create_params": {"input": "Count.", "tools": SERVER.tool_definitions()},
        "initial_count": initial_count,
        "expected_count": expected_count,
    }


def increment(count: int | None = None) -> dict[str, Any]:
    """A model turn that calls increment_counter, by `count` or, with no arguments, by the default step."""
    return {"calls": [{"name": "increment_counter", "arguments": {} if count is None else {"count": count}}]}


env, rollout, episode = environment_fixtures(ENV_DIR)


# ------------------------------------------------------------------ the data


def test_data_has_five_valid_rows() -> None:
    assert len(ROWS) == 5
    for row in ROWS:
        RunRequest.model_validate(row)
        assert row["responses_create_params"]["tools"] == SERVER.tool_definitions()
        assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= 512
        assert isinstance(row["initial_count"], int)
        assert isinstance(row["expected_count"], int)


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_each_row_earns_1_iff_its_increments_reach_the_expected_count(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    calls = tool_calls(result)
    count = row["initial_count"]
    for name, args, output in calls:  # every tool answer follows from the seed and the increments so far
        count += args.get("count", 1) if name == "increment_counter" else 0
        assert output == {"count": count}, f"{name}({args})"
    assert calls
    assert result["final_count"] == count
    assert result["reward"] == float(count == row["expected_count"])
    assert final_answer(result) == f"The counter is now {count}."
    assert (result["reward"] == 1.0) == (row["id"] != 4), "only row 4 is scripted to increment once too few"


# ------------------------------------------------------------------ the counter and verify


def test_counter_starts_at_the_seed_and_counts(episode: httpx.Client) -> None:
    assert episode.post("/seed_session", json=task(10, 0)).json() == {}
    assert episode.post("/get_counter_value", json={}).json() == {"count": 10}
    assert episode.post("/increment_counter", json={}).json() == {"count": 11}
    assert episode.post("/increment_counter", json={"count": 5}).json() == {"count": 16}
    assert episode.post("/increment_counter", json={"count": -20}).json() == {"count": -4}
    assert episode.post("/increment_counter").json() == {"count": -3}  # an empty body is no arguments
    assert episode.post("/get_counter_value").json() == {"count": -3}


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_verify_rewards_exactly_the_expected_count(rollout: Rollout, row: dict[str, Any]) -> None:
    to_go = row["expected_count"] - row["initial_count"]
    exact = rollout(with_script(row, increment(to_go)))
    assert (exact["final_count"], exact["reward"]) == (row["expected_count"], 1.0)
    one_over = rollout(with_script(row, increment(to_go), increment()))
    assert (one_over["final_count"], one_over["reward"]) == (row["expected_count"] + 1, 0.0)


def test_reseeding_starts_a_fresh_episode(episode: httpx.Client) -> None:
    episode.post("/seed_session", json=task(0, 0))
    episode.post("/increment_counter", json={"count": 3})
    episode.post("/seed_session", json=task(0, 0))
    assert episode.post("/get_counter_value", json={}).json() == {"count": 0}


def test_an_episode_that_was_never_seeded_is_lost_not_0(env: EnvironmentStack) -> None:
    with httpx.Client(base_url=env.resources, timeout=30) as unseeded:
        for path, body in (("/increment_counter", {}), ("/verify", {**task(0, 0), "response": {}})):
            answer = unseeded.post(path, json=body)
            assert answer.status_code == 409, answer.text
            assert answer.json()["kind"] == "session_lost"


def test_50_concurrent_rollouts_each_see_only_their_own_counter(rollout: Rollout) -> None:
    def one(i: int) -> dict[str, Any]:
        initial, step = 1000 * i, i + 1
        return rollout(with_script(task(initial, initial + 3 * step), *[increment(step)] * 3, READ))

    with ThreadPoolExecutor(max_workers=50) as pool:
        results = list(pool.map(one, range(50)))
    for i, result in enumerate(results):
        initial, step = 1000 * i, i + 1
        seen = [output["count"] for _, _, output in tool_calls(result)]
        assert seen == [initial + step, initial + 2 * step, initial + 3 * step, initial + 3 * step]
        assert result["final_count"] == initial + 3 * step
        assert result["reward"] == 1.0


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("path", "body", "field"),
    [
        ("increment_counter", {"count": "three"}, "count"),
        ("increment_counter", {"count": 1.5}, "count"),
        ("increment_counter", {"count": None}, "count"),
        ("seed_session", {"responses_create_params": {"input": "Count."}}, "initial_count"),
        ("seed_session", {**task(0, 0), "initial_count": "zero"}, "initial_count"),
        ("verify", {"responses_create_params": {"input": "Count."}, "response": {}}, "expected_count"),
    ],
)
def test_bad_arguments_answer_4xx_naming_the_field(
    episode: httpx.Client, path: str, body: dict[str, Any], field: str
) -> None:
    answer = episode.post(f"/{path}", json=body)
    assert 400 <= answer.status_code < 500
    assert f"{field}:" in answer.json()["error"]


@pytest.mark.parametrize("route", ["increment_counter", "get_counter_value", "seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b"count=2", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")

"""example_multi_step, run for real: the example rows as whole rollouts, the tools, the verifier, bad input.

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
from gymbox.testing import EnvironmentStack, environment_fixtures, read_rows, tool_calls, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
SERVER = load_environment("example_multi_step", ENV_DIR)
Rollout = Callable[[dict[str, Any]], dict[str, Any]]
ROWS = read_rows(ENV_DIR / "data" / "example.jsonl")


def submitting(row: dict[str, Any], *submissions: list[int]) -> dict[str, Any]:
    """`row` with a model that submits each list in turn, without looking anything up."""
    return with_script(
        row,
        *(
            {"calls": [{"name": "extract_synonym_values", "arguments": {"synonym_values": values}}]}
            for values in submissions
        ),
    )


env, rollout, episode = environment_fixtures(ENV_DIR)


# ------------------------------------------------------------------ the data


def test_data_has_five_valid_rows() -> None:
    assert len(ROWS) == 5
    for row in ROWS:
        RunRequest.model_validate(row)
        assert row["responses_create_params"]["tools"] == SERVER.tool_definitions()
        assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= 512
        assert len(row["expected_synonyms"]) == len(row["expected_synonym_values"])


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_each_row_earns_1_iff_it_submits_the_expected_values_in_order(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    calls = tool_calls(result)
    looked_up = {args["synonym"]: out["synonym_value"] for name, args, out in calls if name == "get_synonym_value"}
    submitted = [args["synonym_values"] for name, args, _ in calls if name == "extract_synonym_values"][-1]
    # It looks up every synonym, the tool answers the row's expected values, and it submits what it found.
    assert looked_up == dict(zip(row["expected_synonyms"], row["expected_synonym_values"], strict=True))
    assert sorted(submitted) == sorted(looked_up.values())
    assert result["parsed_synonym_values"] == submitted
    assert result["reward"] == float(submitted == row["expected_synonym_values"])
    assert (result["reward"] == 1.0) == (row["id"] != 4), "only row 4 is scripted to submit out of order"


# ------------------------------------------------------------------ tools and verify


def test_get_synonym_value_sums_code_points(episode: httpx.Client) -> None:
    answer = episode.post("/get_synonym_value", json={"synonym": "Warm"})
    assert answer.status_code == 200
    assert answer.json() == {"synonym_value": 87 + 97 + 114 + 109}


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_verify(rollout: Rollout, row: dict[str, Any]) -> None:
    expected = row["expected_synonym_values"]
    exact = rollout(submitting(row, expected))
    assert exact["reward"] == exact["accuracy"] == 1.0
    assert exact["set_overlap"] == 1.0
    assert not exact["order_instruction_following_failure"]
    assert not exact["original_term_minefield_hit"]

    reordered = rollout(submitting(row, expected[1:] + expected[:1]))
    assert reordered["reward"] == reordered["accuracy"] == 0.0
    assert reordered["set_overlap"] == 1.0
    assert reordered["order_instruction_following_failure"]

    with_original_term = rollout(submitting(row, [row["minefield_label_value"], *expected[1:]]))
    assert with_original_term["reward"] == 0.0
    assert with_original_term["set_overlap"] == pytest.approx((len(expected) - 1) / len(expected))
    assert with_original_term["original_term_minefield_hit"]


def test_a_rollout_without_a_submission_earns_0(rollout: Rollout) -> None:
    result = rollout(with_script(ROWS[0], {"say": "I would rather not."}))
    assert tool_calls(result) == []
    assert result["reward"] == 0.0
    assert result["set_overlap"] == 0.0
    assert result["parsed_synonym_values"] == []


def test_the_last_submission_counts(rollout: Rollout) -> None:
    expected = ROWS[0]["expected_synonym_values"]
    assert rollout(submitting(ROWS[0], expected[::-1], expected))["reward"] == 1.0
    assert rollout(submitting(ROWS[0], expected, expected[::-1]))["reward"] == 0.0


def test_concurrent_rollouts_keep_their_own_submissions(rollout: Rollout) -> None:
    episodes = [(row, row["expected_synonym_values"][:: 1 if i % 2 else -1]) for i, row in enumerate(ROWS * 4)]
    with ThreadPoolExecutor(max_workers=len(episodes)) as pool:
        results = list(pool.map(lambda episode: rollout(submitting(*episode)), episodes))
    for (row, values), result in zip(episodes, results, strict=True):
        assert result["parsed_synonym_values"] == values
        assert result["reward"] == float(values == row["expected_synonym_values"])


# ------------------------------------------------------------------ bad input


@pytest.mark.parametrize(
    ("tool", "arguments", "field"),
    [
        ("get_synonym_value", {}, "synonym"),
        ("get_synonym_value", {"synonym": 7}, "synonym"),
        ("get_synonym_value", {"synonym": ""}, "synonym"),
        ("extract_synonym_values", {}, "synonym_values"),
        ("extract_synonym_values", {"synonym_values": "407, 711"}, "synonym_values"),
        ("extract_synonym_values", {"synonym_values": ["Warm"]}, "synonym_values.0"),
    ],
)
def test_bad_arguments_answer_4xx_naming_the_field(
    episode: httpx.Client, tool: str, arguments: dict[str, Any], field: str
) -> None:
    answer = episode.post(f"/{tool}", json=arguments)
    assert 400 <= answer.status_code < 500
    assert f"{field}:" in answer.json()["error"]


@pytest.mark.parametrize("route", ["get_synonym_value", "extract_synonym_values", "seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b'{"synonym": "Warm"', headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")


def test_a_row_without_expected_values_is_refused_before_the_episode_starts(env: EnvironmentStack) -> None:
    row = {key: value for key, value in ROWS[0].items() if key != "expected_synonym_values"}
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert "seed_session" in answer.json()["error"]
    assert "expected_synonym_values: Field required" in answer.json()["error"]

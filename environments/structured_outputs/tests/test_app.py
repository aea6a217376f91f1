"""structured_outputs, run for real: the verifier, the example rows as whole rollouts, the datasets, bad input.

The verifier's parsing and scoring are tested as functions first (fast, exhaustive), then through whole
rollouts: a module fixture serves the environment's config with gymbox's scripted model
(`environment_fixtures`) on 127.0.0.1 and rows go through the agent's `POST /run`. The tests are plain sync
functions: they run the same on the host and inside the environment's image (`gymbox test-env`).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest
from jsonschema import Draft202012Validator

from gymbox.collector.rows import validate_row_text
from gymbox.registry import load_environment
from gymbox.testing import EnvironmentStack, environment_fixtures, final_answer, read_rows, tool_calls, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
DATA = ENV_DIR / "data"
SERVER = load_environment(ENV_DIR.name, ENV_DIR)
APP = sys.modules[SERVER.__module__]
SPLITS = {name: read_rows(DATA / f"{name}.jsonl") for name in ("example", "train", "validation")}
ROWS = SPLITS["example"]
# What each example row's script earns, by row id (README.md says why): keep in step with data/generate.py.
EXAMPLE_REWARDS = {"example-0": 1.0, "example-1": 1.0, "example-2": 1.0, "example-3": 1.0, "example-4": 0.0}
Rollout = Callable[[dict[str, Any]], dict[str, Any]]

env, rollout, episode = environment_fixtures(ENV_DIR)

SCHEMA = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "minLength": 1},
        "born": {"type": "string", "format": "date"},
        "tags": {"type": "array", "items": {"type": "string"}, "minItems": 1, "uniqueItems": True},
        "size": {"type": "integer", "minimum": 1, "maximum": 10},
    },
    "required": ["name", "size"],
    "additionalProperties": False,
}
GOOD = {"name": "Ada", "born": "1815-12-10", "tags": ["maths"], "size": 3}


def answering(row: dict[str, Any], text: str) -> dict[str, Any]:
    """`row` with a scripted model that answers `text` in one turn."""
    return with_script(row, {"say": text})


# ------------------------------------------------------------------ parsing the answer


@pytest.mark.parametrize(
    ("text", "fenced"),
    [
        (json.dumps(GOOD), False),
        (json.dumps(GOOD, indent=2), False),
        (f"\n\n  {json.dumps(GOOD)}  \n", False),
        (f"```json\n{json.dumps(GOOD, indent=2)}\n```", True),
        (f"```JSON\n{json.dumps(GOOD)}\n```\n", True),
        (f"```\n{json.dumps(GOOD)}\n```", True),
        (f"```json {json.dumps(GOOD)}```", True),
        (f"<think>Name first, then size.</think>\n{json.dumps(GOOD)}", False),
        (f"<think>a\nb</think>```json\n{json.dumps(GOOD)}\n```", True),
    ],
)
def test_a_json_answer_is_parsed_bare_or_in_one_fence(text: str, fenced: bool) -> None:
    answer = APP.parse_answer(text)
    assert answer.value == GOOD
    assert answer.fenced is fenced


@pytest.mark.parametrize(
    ("text", "why"),
    [
        ("", "empty"),
        ("   \n ", "empty"),
        ("```json\n```", "empty"),
        ("<think>I will answer.</think>", "empty"),
        (f"Here is the object: {json.dumps(GOOD)}", "Expecting value"),
        (f"```json\n{json.dumps(GOOD)}\n```\nHope this helps!", "Expecting value"),
        (f"{json.dumps(GOOD)}\n{json.dumps(GOOD)}", "Extra data"),
        ("{'name': 'Ada', 'size': 3}", "Expecting property name"),
        ('{"name": "Ada", "size": 3,}', "Expecting property name"),
        ('{"name": "Ada", "size": 3', "Expecting"),
        ('{"name": "Ada", "size": NaN}', "NaN is not JSON"),
        ('{"name": "Ada", "size": -Infinity}', "-Infinity is not JSON"),
        ("[" * 100_000 + "]" * 100_000, "nested too deeply"),
    ],
)
def test_what_is_not_one_json_value_is_refused_with_a_reason(text: str, why: str) -> None:
    with pytest.raises(APP.NotJSON, match=re.escape(why)):
        APP.parse_answer(text)


# ------------------------------------------------------------------ scoring


def test_a_valid_object_earns_1() -> None:
    assert APP.score(json.dumps(GOOD), SCHEMA) == {
        "reward": 1.0,
        "parsed": 1.0,
        "valid": 1.0,
        "fenced": 0.0,
        "error_count": 0,
        "errors": [],
    }
    assert APP.score(json.dumps({"name": "Ada", "size": 10}), SCHEMA)["reward"] == 1.0  # optional ones left out


@pytest.mark.parametrize(
    ("answer", "errors"),
    [
        ({"name": "Ada"}, ["$: 'size' is a required property"]),
        ({**GOOD, "size": 11}, ["$.size: 11 is greater than the maximum of 10"]),
        ({**GOOD, "size": 2.5}, ["$.size: 2.5 is not of type 'integer'"]),
        ({**GOOD, "name": ""}, ["$.name: '' should be non-empty"]),
        ({**GOOD, "tags": []}, ["$.tags: [] should be non-empty"]),
        ({**GOOD, "tags": ["a", "a"]}, ["$.tags: ['a', 'a'] has non-unique elements"]),
        ({**GOOD, "born": "10 December 1815"}, ["$.born: '10 December 1815' is not a 'date'"]),
        ({**GOOD, "extra": 1}, ["$: Additional properties are not allowed ('extra' was unexpected)"]),
        ({"size": "3"}, ["$: 'name' is a required property", "$.size: '3' is not of type 'integer'"]),
    ],
)
def test_an_invalid_object_earns_0_and_says_why(answer: dict[str, Any], errors: list[str]) -> None:
    result = APP.score(json.dumps(answer), SCHEMA)
    assert result["reward"] == result["valid"] == 0.0
    assert result["parsed"] == 1.0
    assert result["error_count"] == len(errors)
    assert sorted(result["errors"]) == sorted(errors)


@pytest.mark.parametrize("text", ["[1, 2]", "42", '"Ada"', "null", "true", "[]"])
def test_json_of_the_wrong_type_parses_but_earns_0(text: str) -> None:
    result = APP.score(text, SCHEMA)
    assert (result["reward"], result["parsed"], result["valid"], result["error_count"]) == (0.0, 1.0, 0.0, 1)
    assert "is not of type 'object'" in result["errors"][0]


@pytest.mark.parametrize("text", ["", "Sorry, I cannot do that.", "{name: Ada}", '```json\n{"name": "Ada"', "NaN"])
def test_an_answer_that_is_not_json_earns_0_and_has_no_error_count(text: str) -> None:
    result = APP.score(text, SCHEMA)
    assert (result["reward"], result["parsed"], result["valid"]) == (0.0, 0.0, 0.0)
    assert "error_count" not in result  # its mean is over parsed answers only
    assert result["errors"][0].startswith("not JSON: ")


def test_formats_are_asserted_unless_the_config_turns_them_off() -> None:
    bad_date = json.dumps({**GOOD, "born": "1815-13-45"})
    assert APP.score(bad_date, SCHEMA)["reward"] == 0.0
    assert APP.score(bad_date, SCHEMA, check_formats=False)["reward"] == 1.0


def test_many_errors_are_counted_but_only_the_first_few_listed() -> None:
    schema = {"type": "object", "required": [f"k{i}" for i in range(20)]}
    result = APP.score("{}", schema)
    assert result["error_count"] == 20
    assert len(result["errors"]) == APP.ERRORS_SHOWN


# ------------------------------------------------------------------ the data


@pytest.mark.parametrize("split", SPLITS)
def test_every_row_is_a_valid_task_row(split: str) -> None:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == {"example": 5, "train": 1000, "validation": 200}[split]
    ids = set()
    for number, line in enumerate(lines, 1):
        row = validate_row_text(line)
        assert isinstance(row, dict), f"{split}.jsonl:{number}: {row}"
        assert row["responses_create_params"]["tools"] == []
        assert ("metadata" in row["responses_create_params"]) == (split == "example"), "only examples carry scripts"
        ids.add(row["id"])
        # The prompt shows exactly the row's schema, and the reference answer validates against it.
        prompt = row["responses_create_params"]["input"][0]["content"]
        shown = re.search(r"```json\n(.*?)\n```", prompt, re.S)
        assert shown, f"{split}.jsonl:{number}"
        assert json.loads(shown.group(1)) == row["schema"], f"{split}.jsonl:{number}"
        validator = Draft202012Validator(row["schema"], format_checker=Draft202012Validator.FORMAT_CHECKER)
        assert not list(validator.iter_errors(row["reference_answer"])), f"{split}.jsonl:{number}"
    assert len(ids) == len(lines)


def test_schemas_are_valid_draft_2020_12_schemas() -> None:
    # Checking a schema against the meta-schema costs ~4 ms: every example row, and every 10th of the others.
    rows = [*ROWS, *SPLITS["train"][::10], *SPLITS["validation"][::10]]
    for row in rows:
        APP.SchemaTask.model_validate(row)  # what seed_session and verify do
        Draft202012Validator.check_schema(row["schema"])
    used = {
        fmt
        for split in SPLITS.values()
        for row in split
        for fmt in re.findall(r'"format": "(\w+)"', json.dumps(row["schema"]))
    }
    assert used <= set(Draft202012Validator.FORMAT_CHECKER.checkers), "a format the checker cannot assert"


def test_train_and_validation_prompts_are_distinct_and_disjoint() -> None:
    prompts = {
        split: [row["responses_create_params"]["input"][0]["content"] for row in rows] for split, rows in SPLITS.items()
    }
    assert len(set(prompts["train"])) == len(prompts["train"])
    assert len(set(prompts["validation"])) == len(prompts["validation"])
    assert not set(prompts["train"]) & set(prompts["validation"])


def test_the_generator_writes_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)], check=True, capture_output=True, timeout=60
    )
    for split in SPLITS:
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (DATA / f"{split}.jsonl").read_bytes(), split


# ------------------------------------------------------------------ whole rollouts


@pytest.mark.parametrize("row", ROWS, ids=[row["id"] for row in ROWS])
def test_each_example_row_earns_its_reward(rollout: Rollout, row: dict[str, Any]) -> None:
    assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= 512  # OpenAI's metadata limit
    result = rollout(row)
    assert tool_calls(result) == []
    assert result["reward"] == EXAMPLE_REWARDS[row["id"]], (final_answer(result), result["errors"])
    assert result["parsed"] == 1.0
    assert result["valid"] == result["reward"]
    assert result["fenced"] == float(row["id"] == "example-1")
    assert result["schema"] == row["schema"]  # task fields travel through verify
    if result["reward"] == 0.0:
        assert result["errors"] == [f"$: '{row['schema']['required'][0]}' is a required property"]


def test_the_reference_answer_earns_1_through_a_whole_rollout(rollout: Rollout) -> None:
    for row in SPLITS["validation"][:5]:
        result = rollout(answering(row, f"```json\n{json.dumps(row['reference_answer'], indent=2)}\n```"))
        assert result["reward"] == 1.0, result["errors"]


@pytest.mark.parametrize("text", ["", "I can't help with that.", "[]", '{"unexpected": true}'])
def test_bad_answers_earn_0_through_a_whole_rollout(rollout: Rollout, text: str) -> None:
    result = rollout(answering(ROWS[0], text))
    assert result["reward"] == 0.0
    assert result["parsed"] == float(text.startswith(("[", "{")))


def test_a_model_that_ends_on_a_tool_call_earns_0(env: EnvironmentStack) -> None:
    # There are no tools: the agent answers the call with an error, and the model calls again until max_steps.
    call = {"calls": [{"name": "lookup", "arguments": {"query": "schema"}}]}
    result = env.run(with_script(ROWS[0], call, call), status="model_error")
    assert result["reward"] == 0.0
    assert result["parsed"] == 0.0


# ------------------------------------------------------------------ bad rows and bodies


@pytest.mark.parametrize(
    ("schema", "why"),
    [
        (None, "the row needs `schema`"),
        ('{"type": "object"}', "the row needs `schema`"),
        ({"type": "objekt"}, "not a valid Draft 2020-12 schema"),
        ({"type": "object", "required": "name"}, "not a valid Draft 2020-12 schema"),
    ],
)
def test_a_row_without_a_usable_schema_is_refused_before_the_episode(
    env: EnvironmentStack, schema: Any, why: str
) -> None:
    row = {key: value for key, value in ROWS[0].items() if key != "schema"}
    if schema is not None:
        row["schema"] = schema
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert why in answer.json()["error"]


@pytest.mark.parametrize("route", ["seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b"schema=x", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")


def test_verify_without_a_response_answers_422(episode: httpx.Client) -> None:
    answer = episode.post("/verify", json=ROWS[0])
    assert answer.status_code == 422
    assert "response: Field required" in answer.json()["error"]

"""reasoning_gym, run for real: the data files, the generator, the verifier, and rows it must refuse.

A module fixture serves the environment's configs with gymbox's scripted model (`environment_stack`): the
resources server, simple_agent and the model, as uvicorn servers on 127.0.0.1. Rollouts go through the
agent's `POST /run`. The tests are plain sync functions and run the same on the host and inside the
environment's image (`gymbox test-env reasoning_gym`).

Scoring needs reasoning-gym, which the image installs and the host's venv may not have: the tests that
score or generate are marked `needs_reasoning_gym` and skip where it is missing. The rest (the data files,
answer extraction, rows refused before any scorer is needed) run everywhere.
"""

from __future__ import annotations

import ast
import importlib.util
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymbox.collector.rows import validate_row_text
from gymbox.registry import load_environment
from gymbox.testing import EnvironmentStack, environment_fixtures, final_answer, read_rows, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
DATA = ENV_DIR / "data"
SERVER = load_environment(ENV_DIR.name, ENV_DIR)
APP = sys.modules[SERVER.__module__]
ROWS = read_rows(DATA / "example.jsonl")
SPLITS = {"train": read_rows(DATA / "train.jsonl"), "validation": read_rows(DATA / "validation.jsonl")}
# One validation row of each family, for the verifier's checks.
BY_FAMILY = {
    family: next(row for row in SPLITS["validation"] if row["metadata"]["source_dataset"] == family)
    for family in APP.FAMILIES
}
# What each example row's scripted answer earns, and whether it used <answer> tags (see the README's table).
EXAMPLE_REWARDS = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0}
EXAMPLE_TAGGED = {0: True, 1: False, 2: True, 3: True, 4: True}
Rollout = Callable[..., dict[str, Any]]

needs_reasoning_gym = pytest.mark.skipif(
    importlib.util.find_spec("reasoning_gym") is None,
    reason="reasoning-gym is not installed here; `gymbox test-env reasoning_gym` runs these in the image",
)

env, rollout, episode = environment_fixtures(ENV_DIR)


def answering(row: dict[str, Any], text: str) -> dict[str, Any]:
    """`row` with a model that replies `text` at once."""
    return with_script(row, {"say": text})


def refused(env: EnvironmentStack, row: dict[str, Any]) -> str:
    """The error of a `/run` the agent refuses as an invalid row (seed_session answered 4xx)."""
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400, answer.text
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    error: str = answer.json()["error"]
    assert "seed_session" in error
    return error


def with_fields(row: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {**row, **fields}


# ------------------------------------------------------------------ the data


def test_example_has_five_valid_rows_with_scripts() -> None:
    assert [row["id"] for row in ROWS] == sorted(EXAMPLE_REWARDS)
    for row in ROWS:
        assert row["responses_create_params"]["tools"] == []
        assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= 512  # OpenAI's metadata limit
        APP.ReasoningGymTask.model_validate(row)


@pytest.mark.parametrize(("split", "size"), [("train", 600), ("validation", 150)])
def test_train_and_validation_are_valid_rows_for_real_models(split: str, size: int) -> None:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == size
    rows = [validate_row_text(line) for line in lines]
    assert all(isinstance(row, dict) for row in rows), [row for row in rows if isinstance(row, str)][:3]
    assert [row["id"] for row in SPLITS[split]] == list(range(size))
    families = [row["metadata"]["source_dataset"] for row in SPLITS[split]]
    assert families == list(APP.FAMILIES) * (size // len(APP.FAMILIES))  # round-robin, balanced
    for row in SPLITS[split]:
        params = row["responses_create_params"]
        assert "metadata" not in params  # no scripts: these rows are for real models
        assert params["tools"] == []
        [message] = params["input"]
        assert message["content"].startswith(row["question"].rstrip())
        assert message["content"].endswith(
            "between <answer> and </answer> tags, for example <answer>your answer</answer>."
        )
        APP.ReasoningGymTask.model_validate(row)


def test_no_prompt_is_in_two_files_or_twice_in_one() -> None:
    prompts = {
        name: [row["responses_create_params"]["input"][0]["content"] for row in rows]
        for name, rows in {**SPLITS, "example": ROWS}.items()
    }
    for texts in prompts.values():
        assert len(set(texts)) == len(texts)
    assert not set(prompts["train"]) & set(prompts["validation"])
    assert not set(prompts["example"]) & (set(prompts["train"]) | set(prompts["validation"]))


def test_the_generator_draws_from_the_families_the_server_scores() -> None:
    source = ast.parse((DATA / "generate.py").read_text(encoding="utf-8"))
    [families] = [
        ast.literal_eval(node.value)
        for node in source.body
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "FAMILIES" for t in node.targets)
    ]
    assert families == APP.FAMILIES == tuple(APP.ReasoningGymConfig().families)


@needs_reasoning_gym
def test_the_generator_reproduces_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    spec = importlib.util.spec_from_file_location("reasoning_gym_generate", DATA / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    generate = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(generate)
    written = generate.write(tmp_path)
    assert sorted(path.name for path in written) == ["example.jsonl", "train.jsonl", "validation.jsonl"]
    for path in written:
        assert path.read_bytes() == (DATA / path.name).read_bytes(), f"{path.name} differs: run data/generate.py"


# ------------------------------------------------------------------ answer extraction (no scorer needed)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("<answer>42</answer>", ("42", True)),
        ("So 6 * 7 is\n<answer>\n  42 \n</answer>\n", ("42", True)),
        ("<answer>41</answer> no wait, <ANSWER>42</ANSWER>", ("42", True)),  # the last one counts
        ("<answer>a, b,\nc</answer>", ("a, b,\nc", True)),
        ("<answer></answer>", ("", True)),
        ("  42\n", ("42", False)),  # no tags: the whole message
        ("<answer>42", ("<answer>42", False)),  # unclosed
        ("", ("", False)),
    ],
)
def test_extract_answer(text: str, expected: tuple[str, bool]) -> None:
    assert APP.extract_answer(text) == expected


# ------------------------------------------------------------------ rows refused before any scoring


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"metadata": {"source_dataset": "sudoku"}}, "metadata.source_dataset: 'sudoku' is not a family"),
        ({"metadata": {"source_dataset": ""}}, "metadata.source_dataset:"),
        ({"metadata": {"expression": "1 + 1"}}, "metadata.source_dataset: Field required"),
        ({"metadata": "chain_sum"}, "metadata:"),
        ({"metadata": None}, "metadata:"),
        ({"answer": 7}, "answer: Input should be a valid string"),
        ({"answer": ["-978"]}, "answer: Input should be a valid string"),
    ],
)
def test_a_row_of_the_wrong_shape_or_an_unknown_family_is_refused(
    env: EnvironmentStack, change: dict[str, Any], field: str
) -> None:
    assert field in refused(env, with_fields(ROWS[0], **change))


def test_a_row_without_answer_or_metadata_is_refused(env: EnvironmentStack) -> None:
    for key in ("answer", "metadata"):
        row = {k: v for k, v in ROWS[0].items() if k != key}
        assert f"{key}: Field required" in refused(env, row)


@pytest.mark.parametrize("route", ["seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b'{"answer": "1"', headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")


# ------------------------------------------------------------------ the examples, through whole rollouts


@needs_reasoning_gym
@pytest.mark.parametrize("row", ROWS, ids=[row["metadata"]["source_dataset"] for row in ROWS])
def test_each_example_row_earns_its_reward(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    family = row["metadata"]["source_dataset"]
    assert result["reward"] == EXAMPLE_REWARDS[row["id"]], final_answer(result)
    assert result["answer_extracted"] == float(EXAMPLE_TAGGED[row["id"]])
    assert result["exact_match"] == result["reward"]
    assert result[f"reward/{family}"] == result["reward"]
    assert result["score_error"] == 0.0
    # the task fields travel through verify untouched
    assert {key: result[key] for key in ("id", "question", "answer", "metadata")} == {
        key: row[key] for key in ("id", "question", "answer", "metadata")
    }


# ------------------------------------------------------------------ the verifier


@needs_reasoning_gym
@pytest.mark.parametrize("family", list(BY_FAMILY))
def test_the_reference_answer_in_tags_earns_1(rollout: Rollout, family: str) -> None:
    row = BY_FAMILY[family]
    result = rollout(answering(row, f"Let me work it out.\n\n<answer>{row['answer']}</answer>"))
    assert result["reward"] == result["exact_match"] == result["answer_extracted"] == 1.0
    assert result["extracted_answer"] == row["answer"]


@needs_reasoning_gym
@pytest.mark.parametrize("family", ["basic_arithmetic", "chain_sum", "leg_counting", "letter_counting"])
def test_a_wrong_number_earns_0(rollout: Rollout, family: str) -> None:
    row = BY_FAMILY[family]
    wrong = str(int(row["answer"]) + 1)
    assert row["answer"] not in wrong  # else the family's scorer gives partial credit
    result = rollout(answering(row, f"<answer>{wrong}</answer>"))
    assert result["reward"] == result["exact_match"] == 0.0
    assert result["answer_extracted"] == 1.0


@needs_reasoning_gym
def test_the_family_scorer_decides_partial_credit_and_tolerance(rollout: Rollout) -> None:
    number = BY_FAMILY["chain_sum"]
    assert rollout(answering(number, f"<answer>+{int(number['answer']):,}.00</answer>"))["reward"] == 1.0
    word = BY_FAMILY["spell_backward"]
    assert rollout(answering(word, f"<answer>{word['answer'].upper()}</answer>"))["reward"] == 1.0
    half = rollout(answering(word, f"<answer>{word['answer'][:-1]}</answer>"))  # a letter short: most of it right
    assert 0.0 < half["reward"] < 1.0
    assert half["exact_match"] == 0.0
    words = BY_FAMILY["word_sorting"]
    reordered = ", ".join(reversed(words["metadata"]["sorted_words"]))
    assert 0.0 < rollout(answering(words, f"<answer>{reordered}</answer>"))["reward"] < 1.0


@needs_reasoning_gym
def test_an_untagged_answer_is_the_whole_final_message(rollout: Rollout) -> None:
    row = BY_FAMILY["leg_counting"]
    result = rollout(answering(row, f"  {row['answer']}\n"))
    assert result["reward"] == 1.0
    assert result["answer_extracted"] == 0.0
    # With prose around it, the default scorer's partial credit is the answer's share of the text.
    result = rollout(answering(row, f"The animals have {row['answer']} legs in total."))
    assert 0.0 < result["reward"] < 0.5


@needs_reasoning_gym
@pytest.mark.parametrize(
    "text",
    [
        "",  # empty
        "I am not sure how to count these.",  # unparseable, no tags
        "<answer></answer>",  # empty tags
        "<answer>many legs</answer>",  # words where a number is due
        '<answer>{"legs": 12}</answer>',  # the wrong type
        "<answer>[12, 4]</answer>",
    ],
)
def test_unparseable_empty_or_wrongly_typed_answers_earn_0(rollout: Rollout, text: str) -> None:
    result = rollout(answering(BY_FAMILY["leg_counting"], text))
    assert result["reward"] == 0.0
    assert result["score_error"] == 0.0


@needs_reasoning_gym
def test_a_call_to_a_tool_that_does_not_exist_gets_an_error_and_the_answer_still_counts(rollout: Rollout) -> None:
    row = BY_FAMILY["chain_sum"]
    turns = (
        {"calls": [{"name": "calculator", "arguments": {"expression": "1 + 1"}}]},  # no such tool
        {"say": f"<answer>{row['answer']}</answer>"},
    )
    result = rollout(with_script(row, *turns))
    [output] = [item for item in result["response"]["output"] if item["type"] == "function_call_output"]
    # The model got an error back (gymbox's agent forwards a call to an unoffered tool when a row offers none,
    # and the resources server answers 404), and its final message is what is scored.
    assert "error" in json.loads(output["output"])
    assert result["reward"] == 1.0


@needs_reasoning_gym
def test_verify_scores_a_response_posted_directly(episode: httpx.Client) -> None:
    row = BY_FAMILY["word_sorting"]
    message = {
        "type": "message",
        "role": "assistant",
        "status": "completed",
        "id": "msg_1",
        "content": [{"type": "output_text", "text": f"<answer>{row['answer']}</answer>", "annotations": []}],
    }
    answer = episode.post("/verify", json={**row, "response": {"output": [message]}})
    assert answer.status_code == 200, answer.text
    assert answer.json()["reward"] == 1.0
    assert answer.json()["reward/word_sorting"] == 1.0


# ------------------------------------------------------------------ rows whose metadata its scorer rejects


@needs_reasoning_gym
def test_metadata_the_scorer_cannot_read_is_refused(env: EnvironmentStack) -> None:
    row = BY_FAMILY["word_sorting"]
    metadata = {k: v for k, v in row["metadata"].items() if k != "sorted_words"}
    assert "malformed for word_sorting" in refused(env, with_fields(row, metadata=metadata))


@needs_reasoning_gym
@pytest.mark.parametrize(
    ("family", "change"),
    [
        ("word_sorting", {"sorted_words": "not, a, list"}),
        ("word_sorting", {"sorted_words": ["zebra"]}),
    ],
)
def test_metadata_that_disagrees_with_the_answer_is_refused(
    env: EnvironmentStack, family: str, change: dict[str, Any]
) -> None:
    row = BY_FAMILY[family]
    assert f"inconsistent for {family}" in refused(env, with_fields(row, metadata={**row["metadata"], **change}))

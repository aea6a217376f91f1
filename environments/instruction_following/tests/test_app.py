"""instruction_following, run for real: the checkers, the scoring, the example rows as whole rollouts, the data.

The checkers (checks.py) and `score` are tested as functions first (fast, one case per edge), then whole
rollouts: a module fixture serves the environment's config with gymbox's scripted model
(`environment_fixtures`) on 127.0.0.1 and rows go through the agent's `POST /run`. The tests are plain sync
functions: they run the same on the host and inside the environment's image (`gymbox test-env`).
"""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymbox.collector.rows import validate_row_text
from gymbox.registry import load_environment
from gymbox.testing import EnvironmentStack, environment_fixtures, final_answer, read_rows, tool_calls, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
DATA = ENV_DIR / "data"
SERVER = load_environment(ENV_DIR.name, ENV_DIR)
APP = sys.modules[SERVER.__module__]
checks = APP.checks
SPLITS = {name: read_rows(DATA / f"{name}.jsonl") for name in ("example", "train", "validation")}
ROWS = SPLITS["example"]
# What each example row's script earns, by row id (README.md says why): keep in step with data/generate.py.
EXAMPLE_REWARDS = {"example-0": 1.0, "example-1": 1.0, "example-2": 1.0, "example-3": 1.0, "example-4": 0.0}
Rollout = Callable[[dict[str, Any]], dict[str, Any]]

env, rollout, episode = environment_fixtures(ENV_DIR)


def answering(row: dict[str, Any], text: str) -> dict[str, Any]:
    """`row` with a scripted model that answers `text` in one turn."""
    return with_script(row, {"say": text})


# ------------------------------------------------------------------ the checkers, one by one


@pytest.mark.parametrize(
    ("instruction", "text", "ok"),
    [
        ({"type": "min_words", "n": 3}, "one two three", True),
        ({"type": "min_words", "n": 3}, "one two", False),
        ({"type": "max_words", "n": 3}, "don't well-known it\u2019s", True),  # inner apostrophes and hyphens join
        ({"type": "min_words", "n": 3}, "* - , . ! two words", False),  # punctuation and bullets are not words
        ({"type": "max_words", "n": 3}, "one two three", True),
        ({"type": "max_words", "n": 3}, "one two three four", False),
        ({"type": "max_words", "n": 3}, "snake_case counts twice", False),
        ({"type": "include_keywords", "keywords": ["helmet", "solar panel"]}, "A HELMET and a Solar\n panel.", True),
        ({"type": "include_keywords", "keywords": ["helmet", "traffic"]}, "A helmet in the trafficjam.", False),
        ({"type": "include_keywords", "keywords": ["library"]}, "Libraries are nice.", False),  # whole words only
        ({"type": "forbidden_words", "words": ["bike", "very"]}, "I cycle; bikes are everywhere.", True),
        ({"type": "forbidden_words", "words": ["bike", "very"]}, "It was Very good.", False),
        ({"type": "keyword_frequency", "keyword": "soil", "n": 2}, "Soil, soil-based? SOIL!", True),
        ({"type": "keyword_frequency", "keyword": "soil", "n": 2}, "soil and topsoil and subsoil", False),
        ({"type": "bullet_count", "n": 2}, "Intro\n* one\n  - two\nend", True),
        ({"type": "bullet_count", "n": 2}, "* one\n* two\n* three", False),
        ({"type": "bullet_count", "n": 2}, "**bold** one\n*two\n-three\n* four\n- five", True),
        ({"type": "bullet_count", "n": 0}, "no bullets at all", True),
        ({"type": "lowercase"}, "all lower case, 42 times.", True),
        ({"type": "lowercase"}, "all lower case but One", False),
        ({"type": "lowercase"}, "42 1984", False),  # no letters: nothing is lowercase
        ({"type": "uppercase"}, "<<TITLE>>\nALL CAPS, 42 TIMES.", True),
        ({"type": "uppercase"}, "ALL CAPS but one", False),
        ({"type": "start_phrase", "phrase": "Dear reader"}, "\n  Dear reader, hello.", True),
        ({"type": "start_phrase", "phrase": "Dear reader"}, "dear reader, hello.", False),
        ({"type": "start_phrase", "phrase": "Dear reader"}, "Hello. Dear reader", False),
        ({"type": "end_phrase", "phrase": "Thanks for reading."}, "Bye. Thanks for reading.\n\n", True),
        ({"type": "end_phrase", "phrase": "Thanks for reading."}, "Bye. Thanks for reading!", False),
        ({"type": "end_phrase", "phrase": "Thanks for reading."}, "Thanks for reading. Bye.", False),
        ({"type": "paragraph_count", "n": 2}, "One para\nstill one.\n\n  \n\nTwo.\n", True),
        ({"type": "paragraph_count", "n": 2}, "One.\nStill one.", False),
        ({"type": "paragraph_count", "n": 2}, "One.\n\nTwo.\n\nThree.", False),
        ({"type": "no_commas"}, "No commas here; none at all.", True),
        ({"type": "no_commas"}, "One, two.", False),
        ({"type": "no_commas"}, "One\uff0ctwo.", False),  # a full-width comma is a comma
        ({"type": "title"}, "<<My Title>>\nBody.", True),
        ({"type": "title"}, "My <<title>> inline", True),
        ({"type": "title"}, "<< >> and <my title>", False),
    ],
)
def test_each_checker(instruction: dict[str, Any], text: str, ok: bool) -> None:
    checks.validate(instruction)
    assert checks.check(instruction, text) is ok


@pytest.mark.parametrize(
    "instruction",
    [
        {"type": "max_words", "n": 100},
        {"type": "forbidden_words", "words": ["bike"]},
        {"type": "no_commas"},
        {"type": "bullet_count", "n": 0},
        {"type": "paragraph_count", "n": 0},
    ],
)
@pytest.mark.parametrize("text", ["", "   \n\t", "* - ... !!!"])
def test_a_response_without_words_follows_nothing(instruction: dict[str, Any], text: str) -> None:
    assert checks.check(instruction, text) is False


@pytest.mark.parametrize(
    ("instruction", "why"),
    [
        ({"type": "min_chars", "n": 5}, "unknown instruction 'min_chars'"),
        ({"n": 5}, "unknown instruction None"),
        ("min_words", "unknown instruction 'min_words'"),
        ({"type": "min_words"}, "min_words takes ['n'], got []"),
        ({"type": "min_words", "n": 5, "m": 1}, "min_words takes ['n'], got ['m', 'n']"),
        ({"type": "lowercase", "n": 1}, "lowercase takes no parameters"),
        ({"type": "min_words", "n": "50"}, "must be a whole number"),
        ({"type": "min_words", "n": True}, "must be a whole number"),
        ({"type": "min_words", "n": -1}, "must be a whole number"),
        ({"type": "end_phrase", "phrase": "  "}, "must be a non-empty string"),
        ({"type": "include_keywords", "keywords": []}, "non-empty list"),
        ({"type": "include_keywords", "keywords": "helmet"}, "non-empty list"),
        ({"type": "forbidden_words", "words": ["ok", 3]}, "non-empty list"),
    ],
)
def test_validate_refuses_unknown_or_malformed_instructions(instruction: Any, why: str) -> None:
    with pytest.raises(ValueError, match=why.replace("[", r"\[").replace("]", r"\]")):
        checks.validate(instruction)


def test_every_type_is_described_with_its_parameters() -> None:
    rows = [row for split in SPLITS.values() for row in split]
    seen = {instruction["type"] for row in rows for instruction in row["instructions"]}
    assert seen == set(checks.INSTRUCTIONS), "every instruction type appears in the data"
    assert (
        checks.describe({"type": "include_keywords", "keywords": ["a", "b", "c"]})
        == 'Include the words "a", "b" and "c".'
    )
    assert checks.describe({"type": "forbidden_words", "words": ["bike"]}) == 'Do not use the word "bike" anywhere.'


# ------------------------------------------------------------------ scoring


def test_the_reward_is_the_fraction_followed_with_per_type_metrics() -> None:
    instructions = [
        {"type": "lowercase"},
        {"type": "min_words", "n": 4},
        {"type": "no_commas"},
        {"type": "forbidden_words", "words": ["very"]},
    ]
    assert APP.score("a very short answer, lowercase", instructions) == {
        "reward": 0.5,
        "strict_all": 0.0,
        "followed": [True, True, False, False],
        "pass_forbidden_words": 0.0,
        "pass_lowercase": 1.0,
        "pass_min_words": 1.0,
        "pass_no_commas": 0.0,
    }
    assert APP.score("a short answer in lowercase", instructions)["reward"] == 1.0
    assert APP.score("", instructions)["reward"] == 0.0


def test_a_type_given_twice_passes_only_if_both_do() -> None:
    instructions = [
        {"type": "include_keywords", "keywords": ["tea"]},
        {"type": "include_keywords", "keywords": ["jam"]},
    ]
    result = APP.score("tea and toast", instructions)
    assert (result["reward"], result["pass_include_keywords"]) == (0.5, 0.0)


def test_a_leading_think_block_is_not_part_of_the_response() -> None:
    assert APP.response_text("<think>Plan: Use CAPS? no.</think>\nall lowercase") == "\nall lowercase"
    assert APP.response_text("no think block <think>x</think>") == "no think block <think>x</think>"


# ------------------------------------------------------------------ the data


def satisfying(instructions: list[dict[str, Any]]) -> str:
    """A response built to follow every instruction: shows that a task can be done at all."""
    given = {i["type"]: i for i in instructions}
    forbidden = {w.lower() for w in given.get("forbidden_words", {}).get("words", [])}
    filler = [w for w in "we often talked about plans over tea and noted several ideas".split() if w not in forbidden]
    content = list(given.get("include_keywords", {}).get("keywords", []))
    if "keyword_frequency" in given:
        content += [given["keyword_frequency"]["keyword"]] * given["keyword_frequency"]["n"]
    start = given.get("start_phrase", {}).get("phrase", "")
    end = given.get("end_phrase", {}).get("phrase", "")
    title = "<<a plain title>>" if "title" in given else ""
    blocks = given.get("bullet_count", given.get("paragraph_count", {"n": 1}))["n"]
    fixed = len(checks.words(" ".join([start, end, title, *content])))
    total = max(given.get("min_words", {"n": 0})["n"], fixed + blocks)
    words = content + [filler[i % len(filler)] for i in range(total - fixed)]
    parts = [" ".join(words[b::blocks]) for b in range(blocks)]
    if "bullet_count" in given:  # the start phrase on a line of its own, before the first bullet
        body = "\n".join([start, *(f"* {part}" for part in parts)]).strip()
    else:
        body = f"{start} " + "\n\n".join(parts)
    text = "\n".join(filter(None, [title, f"{body} {end}".strip()]))
    if "lowercase" in given:
        text = text.lower()
    if "uppercase" in given:
        text = text.upper()
    return text


@pytest.mark.parametrize("split", SPLITS)
def test_every_row_is_valid_and_can_be_followed(split: str) -> None:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == {"example": 5, "train": 1000, "validation": 200}[split]
    ids = set()
    for number, line in enumerate(lines, 1):
        row = validate_row_text(line)
        assert isinstance(row, dict), f"{split}.jsonl:{number}: {row}"
        APP.InstructionTask.model_validate(row)  # what seed_session and verify do
        assert row["responses_create_params"]["tools"] == []
        assert ("metadata" in row["responses_create_params"]) == (split == "example"), "only examples carry scripts"
        ids.add(row["id"])
        prompt = row["responses_create_params"]["input"][0]["content"]
        for instruction in row["instructions"]:
            assert checks.describe(instruction) in prompt, f"{split}.jsonl:{number}: {instruction} is not stated"
        if split != "example":
            assert 2 <= len(row["instructions"]) <= 4
            text = satisfying(row["instructions"])
            assert APP.score(text, row["instructions"])["reward"] == 1.0, f"{split}.jsonl:{number}:\n{text}"
    assert len(ids) == len(lines)


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
    assert result["reward"] == EXAMPLE_REWARDS[row["id"]], (final_answer(result), result["followed"])
    assert result["strict_all"] == float(result["reward"] == 1.0)
    assert len(result["followed"]) == len(row["instructions"])
    assert result["instructions"] == row["instructions"]  # task fields travel through verify


def test_a_partly_followed_row_earns_a_fraction(rollout: Rollout) -> None:
    row = ROWS[0]  # lowercase, keywords helmet and traffic, at most 60 words, ends "see you on the road."
    result = rollout(answering(row, "My helmet fits. See you on the road."))
    assert result["followed"] == [False, False, True, False]
    assert result["reward"] == 0.25
    assert result["strict_all"] == 0.0


@pytest.mark.parametrize("text", ["", "   ", "..."])
def test_an_empty_answer_earns_0(rollout: Rollout, text: str) -> None:
    result = rollout(answering(ROWS[1], text))  # bullets, no commas, a forbidden word
    assert result["reward"] == 0.0


def test_a_model_that_ends_on_a_tool_call_earns_0(env: EnvironmentStack) -> None:
    # There are no tools: the agent answers the call with an error, and the model calls again until max_steps.
    call = {"calls": [{"name": "lookup", "arguments": {"query": "rules"}}]}
    result = env.run(with_script(ROWS[1], call, call), status="model_error")
    assert result["reward"] == 0.0


# ------------------------------------------------------------------ bad rows and bodies


@pytest.mark.parametrize(
    ("instructions", "why"),
    [
        (None, "instructions: Field required"),
        ([], "instructions: List should have at least 1 item"),
        ("lowercase", "instructions: Input should be a valid list"),
        (["lowercase"], "instructions.0: Input should be a valid dictionary"),
        ([{"type": "lowercase"}, {"type": "rhymes"}], "instructions[1]: unknown instruction 'rhymes'"),
        ([{"type": "min_words", "n": "many"}], "instructions[0]: min_words.n must be a whole number"),
    ],
)
def test_a_row_with_bad_instructions_is_refused_before_the_episode(
    env: EnvironmentStack, instructions: Any, why: str
) -> None:
    row = {key: value for key, value in ROWS[0].items() if key != "instructions"}
    if instructions is not None:
        row["instructions"] = instructions
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert why in answer.json()["error"]


@pytest.mark.parametrize("route", ["seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b"rules=x", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")


def test_verify_without_a_response_answers_422(episode: httpx.Client) -> None:
    answer = episode.post("/verify", json=ROWS[0])
    assert answer.status_code == 422
    assert "response: Field required" in answer.json()["error"]

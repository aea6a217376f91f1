"""math, run for real: the data and its generator, the verifier, the example rows as whole rollouts, bad input.

A module fixture serves the environment's configs with gymbox's scripted model (`environment_stack`): the
resources server, simple_agent and the model, as uvicorn servers on 127.0.0.1. The tests are plain sync
functions and run the same on the host and inside the environment's image (`gymbox test-env math`).

math-verify is a requirement of the image, not of the repository's venv: on a host without it, the tests that
grade skip (saying so) and the rest run. Its release is the image's build arg MATH_VERIFY_VERSION, which the
image also sets in the environment: there the version checks must pass; on a host they skip.
"""

from __future__ import annotations

import ast
import asyncio
import importlib.util
import operator
import os
import re
import subprocess
import sys
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from fractions import Fraction
from importlib.metadata import version
from pathlib import Path
from typing import Any

import httpx
import pytest

from gymbox.collector.rows import validate_row_text
from gymbox.config import load_config
from gymbox.registry import load_environment
from gymbox.roles import Role
from gymbox.testing import EnvironmentStack, environment_fixtures, final_answer, read_rows, with_script

ENV_DIR = Path(__file__).resolve().parents[1]
DATA = ENV_DIR / "data"
SERVER = load_environment(ENV_DIR.name, ENV_DIR)
APP = sys.modules[SERVER.__module__]
ROWS = read_rows(DATA / "example.jsonl")
# What each example row's script earns, by row id (README.md says why): keep in step with data/generate.py.
EXAMPLE_REWARDS = {0: 1.0, 1: 1.0, 2: 1.0, 3: 1.0, 4: 0.0}
# The math-verify release an image gets unless an instance's build_args names another.
DEFAULT = re.search(r"^ARG MATH_VERIFY_VERSION=(\S+)$", (ENV_DIR / "Dockerfile").read_text(), re.M)
HAS_MATH_VERIFY = importlib.util.find_spec("math_verify") is not None
INSTALLED = version("math-verify") if HAS_MATH_VERIFY else None
IN_IMAGE = ENV_DIR == Path("/srv/environments", ENV_DIR.name)  # where the Dockerfile puts this folder
needs_math_verify = pytest.mark.skipif(
    not HAS_MATH_VERIFY,
    reason="math-verify is not installed on this host (requirements.txt is installed in the "
    f"environment's image only): `gymbox test-env {ENV_DIR.name}` runs the grading tests",
)
Rollout = Callable[[dict[str, Any]], dict[str, Any]]

env, rollout, episode = environment_fixtures(ENV_DIR)


def answering(text: str, row: dict[str, Any] | None = None) -> dict[str, Any]:
    """`row` (example row 0 by default) with a model that answers `text`."""
    return with_script(row or ROWS[0], {"say": text})


def verify_body(row: dict[str, Any], content: Any) -> dict[str, Any]:
    """A `/verify` request: `row` and a response whose one message has `content`."""
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": content}
    return {**row, "response": {"id": "resp_1", "output": [message]}}


def text(answer: str) -> list[dict[str, Any]]:
    return [{"type": "output_text", "text": answer, "annotations": []}]


# ------------------------------------------------------------------ the data


def test_the_generator_writes_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)], check=True, capture_output=True, timeout=60
    )
    for split in ("example", "train", "validation"):
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (DATA / f"{split}.jsonl").read_bytes(), (
            f"data/{split}.jsonl is not what data/generate.py writes: run it and commit the result"
        )


@pytest.mark.parametrize(("split", "size"), [("example", 5), ("train", 1000), ("validation", 200)])
def test_each_dataset_has_its_size_and_valid_rows(split: str, size: int) -> None:
    lines = (DATA / f"{split}.jsonl").read_text().splitlines()
    assert len(lines) == size
    for number, line in enumerate(lines):
        row = validate_row_text(line)
        assert isinstance(row, dict), f"{split}.jsonl:{number + 1}: {row}"
        params = row["responses_create_params"]
        assert params["tools"] == []
        assert [item["role"] for item in params["input"]] == ["user"]
        assert "\\boxed{}" in params["input"][0]["content"]
        assert row["id"] == number
        assert row["problem_type"] in {"arithmetic", "linear_equation", "fraction", "word_problem"}
        assert row["difficulty"] in {1, 2, 3}
        assert row["expected_answer"] == str(Fraction(row["expected_answer"]))  # an integer or p/q, in lowest terms
        assert ("metadata" in params) == (split == "example"), "only the example rows carry a script"


def test_no_prompt_is_in_two_rows() -> None:
    prompts = {
        split: [row["responses_create_params"]["input"][0]["content"] for row in read_rows(DATA / f"{split}.jsonl")]
        for split in ("example", "train", "validation")
    }
    every = [prompt for rows in prompts.values() for prompt in rows]
    assert len(set(every)) == len(every)
    assert not set(prompts["train"]) & set(prompts["validation"])


_OPERATORS = {ast.Add: operator.add, ast.Sub: operator.sub, ast.Mult: operator.mul, ast.Div: operator.truediv}


def _evaluate(expression: str, x: Fraction = Fraction(0)) -> Fraction:
    """An expression as written (`(7/3) / (1/4)`, `5(x - 2)`), in exact arithmetic and Python's precedence."""
    source = re.sub(r"(\d)([x(])", r"\1*\2", expression)  # 5x, 5(...) are products

    def walk(node: ast.AST) -> Fraction:
        if isinstance(node, ast.BinOp):
            result: Fraction = _OPERATORS[type(node.op)](walk(node.left), walk(node.right))
            return result
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.USub):
            return -walk(node.operand)
        if isinstance(node, ast.Constant):
            assert isinstance(node.value, int), ast.dump(node)  # the generator writes integers only
            return Fraction(node.value)
        assert isinstance(node, ast.Name), ast.dump(node)
        assert node.id == "x"
        return x

    return walk(ast.parse(source, mode="eval").body)


def test_every_computed_answer_is_the_value_of_its_expression_as_written() -> None:
    checked = 0
    for split in ("example", "train", "validation"):
        for row in read_rows(DATA / f"{split}.jsonl"):
            problem = row["responses_create_params"]["input"][0]["content"].split("\n")[0]
            answer = Fraction(row["expected_answer"])
            if row["problem_type"] in ("arithmetic", "fraction"):
                expression = re.fullmatch(r"Compute (.+?)\.(?: Simplify the result\.)?", problem)
                assert expression, problem
                assert _evaluate(expression[1]) == answer, problem
            elif row["problem_type"] == "linear_equation":
                sides = re.fullmatch(r"Solve for x: (.+) = (.+)\.", problem)
                assert sides, problem
                assert _evaluate(sides[1], answer) == _evaluate(sides[2], answer), problem
                assert _evaluate(sides[1], answer + 1) != _evaluate(sides[2], answer + 1), problem  # one solution
            else:
                continue
            checked += 1
    assert checked > 900


# ------------------------------------------------------------------ the math-verify release


def test_math_verify_is_the_release_the_image_was_built_with() -> None:
    assert DEFAULT, "the Dockerfile must declare ARG MATH_VERIFY_VERSION=X.Y.Z"
    requirements = [line.split("#")[0] for line in (ENV_DIR / "requirements.txt").read_text().splitlines()]
    assert not any("math-verify" in line for line in requirements), (
        "math-verify's release is the build arg MATH_VERIFY_VERSION, not a requirements.txt pin"
    )
    if not IN_IMAGE:
        pytest.skip(
            f"on the host, math-verify is {INSTALLED or 'not installed'}; the image of {ENV_DIR.name} "
            f"installs MATH_VERIFY_VERSION ({DEFAULT[1]} by default): run `gymbox test-env {ENV_DIR.name}`"
        )
    assert INSTALLED == os.environ["MATH_VERIFY_VERSION"]


def test_the_configs_build_two_releases_side_by_side() -> None:
    configs = sorted((ENV_DIR / "configs").glob("*.yaml"))
    stack = load_config(configs, model="scripted", assign_ports=False, env_file=Path("/dev/null"))
    servers = {inst.name: inst for inst in stack.by_role(Role.RESOURCES_SERVERS)}
    assert {inst.implementation for inst in servers.values()} == {ENV_DIR.name}
    releases = {
        name: inst.config.extra_fields().get("build_args", {}).get("MATH_VERIFY_VERSION", DEFAULT and DEFAULT[1])
        for name, inst in servers.items()
    }
    assert releases == {"math": "0.9.0", "math_v07": "0.7.0"}


def test_major_minor_is_a_number_the_metrics_can_average() -> None:
    assert APP.major_minor("0.9.0") == 0.9
    assert APP.major_minor("0.7.12") == 0.7
    assert APP.major_minor("1.10") == 1.1  # a float: 1.10 and 1.1 are one number
    assert APP.major_minor(None) == 0.0


# ------------------------------------------------------------------ the example rows, whole rollouts


@needs_math_verify
@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_each_example_row_earns_its_reward(rollout: Rollout, row: dict[str, Any]) -> None:
    result = rollout(row)
    assert result["reward"] == EXAMPLE_REWARDS[row["id"]], final_answer(result)
    assert result["answer_parsed"] == 1.0
    assert result["boxed"] == float(row["id"] != 3), "row 3 answers in plain words; the others in \\boxed{}"
    assert result["grader_timeout"] == 0.0
    assert result["expected_answer"] == row["expected_answer"]  # task fields travel through verify
    assert result["math_verify_version"] == INSTALLED
    assert result["math_verify_major_minor"] == APP.major_minor(INSTALLED)


# ------------------------------------------------------------------ the verifier, through POST /verify

GOLD = {**ROWS[0], "expected_answer": "-5/2"}


@needs_math_verify
@pytest.mark.parametrize(
    "answer",
    [
        "\\boxed{-5/2}",
        "\\boxed{-\\frac{5}{2}}",
        "\\boxed{-2.5}",
        "so \\boxed{x = -\\dfrac{5}{2}}.",
        "\\boxed{-10/4}",
        "x is -2.5",
        "First I got 3, then fixed it. The final answer is $-\\frac{5}{2}$",
    ],
)
def test_an_equal_answer_in_any_form_earns_1(episode: httpx.Client, answer: str) -> None:
    result = episode.post("/verify", json=verify_body(GOLD, text(answer))).json()
    assert (result["reward"], result["answer_parsed"]) == (1.0, 1.0), result["extracted_answer"]


@needs_math_verify
@pytest.mark.parametrize(
    "answer",
    [
        "\\boxed{5/2}",
        "\\boxed{-2.4}",
        "\\boxed{-2}",
        "\\boxed{-5/2} and \\boxed{5/2}",
        "-5/2 is tempting, but it is 7",
        # Several boxes are read as one set of answers, which is not the one expected number: hedging earns 0.
        "\\boxed{-5/2} at first, but really \\boxed{-3}",
        "\\boxed{3} was wrong; \\boxed{-5/2}",
    ],
)
def test_a_different_answer_earns_0(episode: httpx.Client, answer: str) -> None:
    result = episode.post("/verify", json=verify_body(GOLD, text(answer))).json()
    assert result["reward"] == 0.0
    assert result["answer_parsed"] == 1.0


@needs_math_verify
@pytest.mark.parametrize(
    "answer", ["", "   ", "I do not know.", "\\boxed{}", "\\boxed{x^}", "\\boxed{\\frac{}{}}", "\\boxed{-5/2"]
)
def test_an_unparseable_or_empty_answer_earns_0_and_is_not_parsed(episode: httpx.Client, answer: str) -> None:
    result = episode.post("/verify", json=verify_body(GOLD, text(answer))).json()
    assert (result["reward"], result["answer_parsed"]) == (0.0, 0.0)


@needs_math_verify
def test_only_the_final_message_counts(episode: httpx.Client) -> None:
    body = verify_body(GOLD, text("\\boxed{-5/2}"))
    later = {**body["response"]["output"][0], "id": "msg_2", "content": text("Actually, \\boxed{2}.")}
    body["response"]["output"].append(later)
    assert episode.post("/verify", json=body).json()["reward"] == 0.0


@needs_math_verify
def test_a_rollout_without_a_final_message_earns_0(rollout: Rollout, env: EnvironmentStack) -> None:
    # The model calls a tool that does not exist and runs out of steps (max_steps 1): a real episode.
    row = with_script(ROWS[0], {"calls": [{"name": "calculator", "arguments": {"expression": "1+1"}}]})
    result = env.run(row, status="model_error")
    assert (result["reward"], result["answer_parsed"], result["boxed"]) == (0.0, 0.0, 0.0)


@needs_math_verify
def test_concurrent_rollouts_are_graded_apart(rollout: Rollout) -> None:
    answers = [(row, f"\\boxed{{{row['expected_answer'] if i % 2 else '123456'}}}") for i, row in enumerate(ROWS * 4)]
    with ThreadPoolExecutor(max_workers=len(answers)) as pool:
        results = list(pool.map(lambda pair: rollout(answering(pair[1], pair[0])), answers))
    assert [result["reward"] for result in results] == [float(i % 2) for i in range(len(answers))]


@needs_math_verify
def test_a_worker_stuck_on_an_answer_is_killed_and_replaced() -> None:
    async def scenario() -> tuple[dict[str, Any], dict[str, Any]]:
        pool = APP.GraderPool(workers=1, timeout_s=0.5, startup_timeout_s=120)
        stuck = await pool.grade("3", "\\boxed{9^{9^{9^{9}}}}")
        after = await pool.grade("3", "\\boxed{3}")
        await pool.close()
        return stuck, after

    stuck, after = asyncio.run(scenario())
    assert (stuck["timed_out"], stuck["correct"]) == (True, False)
    assert (after["timed_out"], after["correct"]) == (False, True)
    assert after["math_verify_version"] == INSTALLED


# ------------------------------------------------------------------ bad input and broken graders


@pytest.mark.parametrize(
    "content",
    [
        [{"type": "output_text", "text": 42, "annotations": []}],  # not a string
        "\\boxed{3}",  # a string where the API has a list of parts
    ],
)
def test_a_response_of_the_wrong_type_answers_422(episode: httpx.Client, content: Any) -> None:
    answer = episode.post("/verify", json=verify_body(GOLD, content))
    assert answer.status_code == 422
    assert answer.json()["error"].startswith("invalid body for verify")


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"expected_answer": None}, "expected_answer"),
        ({"expected_answer": 12}, "expected_answer"),
        ({"expected_answer": ""}, "expected_answer"),
        ({"difficulty": 9}, "difficulty"),
    ],
)
def test_a_bad_row_is_refused_before_the_episode(env: EnvironmentStack, change: dict[str, Any], field: str) -> None:
    row = {key: value for key, value in {**ROWS[0], **change}.items() if value is not None}
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert f"{field}:" in answer.json()["error"]


@pytest.mark.parametrize("route", ["seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b'{"expected_answer": "3"', headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")


@pytest.mark.parametrize(
    ("script", "message"),
    [
        ('import json; print(json.dumps({"ready": False, "error": "no math here"}))', "no math here"),
        ("print('not json')", "grader worker failed: JSONDecodeError"),
        ("import sys; sys.exit(3)", "exited (code 3)"),
    ],
)
def test_a_broken_grader_raises_instead_of_scoring_0(tmp_path: Path, script: str, message: str) -> None:
    # verify answers 500, the agent 502 and the collector records an infra error: never a zero reward.
    (tmp_path / "grader.py").write_text(script)
    pool = APP.GraderPool(workers=1, timeout_s=5, startup_timeout_s=30, script=tmp_path / "grader.py")

    async def scenario() -> None:
        try:
            await pool.grade("3", "\\boxed{3}")
        finally:
            await pool.close()

    with pytest.raises(APP.GraderError, match=re.escape(message)):
        asyncio.run(scenario())

"""code_exec, run for real: the verifier's parts, the data and its generator, whole rollouts, bad answers and rows.

A module fixture serves the environment's config with gymbox's scripted model (`environment_fixtures`): the
resources server, simple_agent, the model and the config's `code_sandbox` (a python_sandbox), as uvicorn
servers on 127.0.0.1, so every answer below really runs, under the sandbox's per-run limits. What needs the
hardened container (fork bombs, the network, writes outside /tmp) is tested with Docker in
tests/docker/test_code_exec_sandbox.py, not here: these tests also run on the host, as root in CI.
The tests are plain sync functions: they run the same on the host and inside the environment's image
(`gymbox test-env code_exec`).
"""

from __future__ import annotations

import ast
import functools
import importlib.util
import json
import re
import subprocess
import sys
from collections import Counter
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
SPLITS = {name: read_rows(DATA / f"{name}.jsonl") for name in ("example", "train", "validation")}
SIZES = {"example": 5, "train": 390, "validation": 97}
ROWS = SPLITS["example"]
# What each example row's script earns, by row id (README.md says why): keep in step with data/generate.py.
EXAMPLE_REWARDS = {0: 1.0, 1: 1.0, 2: 1.0, 3: 0.5, 4: 0.0}
Rollout = Callable[[dict[str, Any]], dict[str, Any]]

env, rollout, episode = environment_fixtures(ENV_DIR)


def load_generator() -> Any:
    spec = importlib.util.spec_from_file_location("code_exec_generate", DATA / "generate.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


GEN = load_generator()


def answering(row: dict[str, Any], code: str, prose: str = "Here it is:\n\n") -> dict[str, Any]:
    """`row` with a scripted model that answers `code` in a ```python block."""
    return with_script(row, {"say": f"{prose}```python\n{code}```"})


def task(entry_point: str, *tests: tuple[list[Any], Any]) -> dict[str, Any]:
    """A made-up row: `entry_point` and hidden tests (args, expected)."""
    return {
        "id": f"made-up-{entry_point}",
        "entry_point": entry_point,
        "tests": [{"args": args, "expected": expected} for args, expected in tests],
        "responses_create_params": {
            "input": [{"role": "user", "content": f"Write {entry_point}."}],
            "tools": SERVER.tool_definitions(),
        },
    }


SQUARE = task("square", ([1], 1), ([2], 4), ([3], 9), ([-4], 16))


def metrics(result: dict[str, Any]) -> tuple[float, ...]:
    return tuple(result[key] for key in ("reward", "all_passed", "loaded", "tests_passed", "tests_total"))


# ------------------------------------------------------------------ the verifier's parts


@pytest.mark.parametrize(
    ("text", "code"),
    [
        ("```python\ndef f():\n    return 1\n```", "def f():\n    return 1\n"),
        ("Sure.\n```py\nx = 1\n```\nDone.", "x = 1\n"),
        ("```Python3\nx = 1\n```", "x = 1\n"),
        ("```\nx = 1\n```", "x = 1\n"),
        ("```python\nx = 1\n```\nthen, better:\n```python\nx = 2\n```", "x = 2\n"),
        ("no code at all", None),
        ("", None),
        ("`x = 1`", None),
        ("```python\nx = 1\n", None),  # never closed
    ],
)
def test_the_last_fenced_block_is_the_answer(text: str, code: str | None) -> None:
    assert APP.extract_code(text) == code


@pytest.mark.parametrize(
    ("got", "expected", "same"),
    [
        ([1, [2, "a"]], [1, [2, "a"]], True),
        ({"a": 1, "b": [2]}, {"b": [2], "a": 1}, True),  # key order does not matter
        (0.1 + 0.2, 0.3, True),
        (2, 2.0, True),
        (1e6 + 1e-4, 1e6, True),  # within 1e-6 relative
        (0.31, 0.3, False),
        (1, True, False),
        (True, 1, False),
        (0, False, False),
        ("1", 1, False),
        ([1, 2], [1, 2, 3], False),
        ({"a": 1}, {"a": 1, "b": 2}, False),
        (None, None, True),
        (None, [], False),
        ({"__unserialisable__": "{1, 2}"}, [1, 2], False),
    ],
)
def test_values_compare_as_json_with_a_float_tolerance(got: Any, expected: Any, same: bool) -> None:
    assert APP.same_value(got, expected) is same


def test_only_the_harness_lines_with_the_nonce_count_and_the_first_per_test_wins() -> None:
    nonce = "@0123456789abcdef@"
    stdout = "\n".join(
        [
            '{"i": 0, "value": 99}',  # no nonce: the submission's own printing
            "@ffffffffffffffff@" + '{"i": 0, "value": 99}',  # a guessed nonce
            nonce + '{"loaded": true}',
            nonce + '{"i": 0, "value": 1}',
            nonce + '{"i": 0, "value": 2}',
            nonce + "not json",
            nonce + '{"i": 7, "value": 3}',  # out of range
            nonce + '{"i": 1, "error": "ZeroDivisionError: division by zero"}',
        ]
    )
    loaded, results = APP.read_results(stdout, nonce, 3)
    assert loaded is True
    assert results == [{"i": 0, "value": 1}, {"i": 1, "error": "ZeroDivisionError: division by zero"}, None]
    assert APP.read_results("", nonce, 2) == (False, [None, None])


# ------------------------------------------------------------------ the data


def test_the_generator_writes_the_committed_files_byte_for_byte(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(DATA / "generate.py"), "--out", str(tmp_path)], check=True, capture_output=True, timeout=60
    )
    for split in SPLITS:
        assert (tmp_path / f"{split}.jsonl").read_bytes() == (DATA / f"{split}.jsonl").read_bytes(), (
            f"data/{split}.jsonl is not what data/generate.py writes: run it and commit the result"
        )


def test_the_rows_carry_the_servers_tool_definitions() -> None:
    assert GEN.TOOLS == SERVER.tool_definitions(), "update TOOLS in data/generate.py, then regenerate the data"


def worked_examples(row: dict[str, Any]) -> list[tuple[list[Any], Any]]:
    """The prompt's `>>> f(args)` examples, as (args, value)."""
    prompt = row["responses_create_params"]["input"][0]["content"]
    found = re.findall(rf"    >>> {row['entry_point']}\((.*)\)\n    (.*)\n", prompt)
    return [(json.loads(json.dumps(ast.literal_eval(f"({args},)"))), ast.literal_eval(value)) for args, value in found]


@pytest.mark.parametrize("split", SPLITS)
def test_every_row_is_a_valid_task_row(split: str) -> None:
    lines = (DATA / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
    assert len(lines) == SIZES[split]
    for number, line in enumerate(lines):
        where = f"{split}.jsonl:{number + 1}"
        row = validate_row_text(line)
        assert isinstance(row, dict), f"{where}: {row}"
        APP.Task.model_validate(row)  # what seed_session checks
        assert row["id"] == number
        params = row["responses_create_params"]
        assert params["tools"] == SERVER.tool_definitions(), where
        assert ("metadata" in params) == (split == "example"), "only the example rows carry a script"
        [message] = params["input"]
        assert message["role"] == "user"
        prompt = message["content"]
        assert f"\n    def {row['entry_point']}(" in prompt, where
        assert "`run_python`" in prompt, where
        assert "```python" in prompt, where
        assert 8 <= len(row["tests"]) <= 12, where
        hidden = [json.dumps(test["args"]) for test in row["tests"]]
        assert len(set(hidden)) == len(hidden), f"{where}: two hidden tests share their arguments"
        shown = worked_examples(row)
        assert len(shown) == 2, where
        assert not {json.dumps(args) for args, _ in shown} & set(hidden), f"{where}: a worked example is hidden"
        for test in row["tests"]:
            assert len(json.dumps(test["expected"])) <= 2000, where  # what the harness reports


def test_tasks_are_distinct_and_validation_is_disjoint_from_train() -> None:
    def spec(row: dict[str, Any]) -> str:  # the prompt without its worked examples: the task itself
        return str(row["responses_create_params"]["input"][0]["content"]).split("\n\nExamples:")[0]

    every = [spec(row) for rows in SPLITS.values() for row in rows]
    assert len(set(every)) == len(every)
    prompts = {
        split: {row["responses_create_params"]["input"][0]["content"] for row in rows} for split, rows in SPLITS.items()
    }
    assert not prompts["train"] & prompts["validation"]
    families = {split: Counter(row["family"] for row in rows) for split, rows in SPLITS.items()}
    assert len(families["train"]) >= 25
    assert len(families["validation"]) >= 25
    assert set(families["validation"]) <= set(families["train"])


@functools.cache
def built() -> dict[str, list[tuple[dict[str, Any], Any]]]:
    """Every split's rows as the generator builds them, each with its task (for its reference solution)."""
    splits: dict[str, list[tuple[dict[str, Any], Any]]] = GEN.build()
    return splits


def test_the_generator_builds_the_committed_rows_and_every_reference_passes_all_its_tests() -> None:
    for split, rows in SPLITS.items():
        assert [row for row, _ in built()[split]] == rows, split
        for row, generated in built()[split]:
            assert GEN.score(GEN.reference_source(generated), row) == 1.0, (split, row["id"])


def test_the_reference_of_every_family_earns_1_through_a_whole_rollout(rollout: Rollout) -> None:
    # One row of each family (validation's first, else train's): ~0.1 s each.
    firsts: dict[str, tuple[dict[str, Any], str]] = {}
    for row, generated in [*built()["validation"], *built()["train"]]:
        firsts.setdefault(row["family"], (row, GEN.reference_source(generated)))
    for row, source in firsts.values():
        total = len(row["tests"])
        assert metrics(rollout(answering(row, source))) == (1.0, 1.0, 1.0, total, total), (row["family"], row["id"])


# ------------------------------------------------------------------ the example rows


@pytest.mark.parametrize("row", ROWS, ids=[str(row["id"]) for row in ROWS])
def test_each_example_row_earns_its_reward(rollout: Rollout, row: dict[str, Any]) -> None:
    assert len(row["responses_create_params"]["metadata"]["gymbox_script"]) <= 512  # OpenAI's metadata limit
    result = rollout(row)
    total = len(row["tests"])
    reward = EXAMPLE_REWARDS[row["id"]]
    assert metrics(result) == (reward, float(reward == 1.0), 1.0, reward * total, total), final_answer(result)
    calls = tool_calls(result)
    if row["id"] == 2:  # tries its code first
        [(name, _, output)] = calls
        assert name == "run_python"
        assert output == {"status": "ok", "exit_code": 0, "stdout": "[[1, 2, 3], [4]]\n", "stderr": ""}
        assert "It printed [[1, 2, 3], [4]], as expected." in final_answer(result)
    else:
        assert calls == []
    assert result["entry_point"] == row["entry_point"]  # task fields travel through verify
    assert result["tests"] == row["tests"]


# ------------------------------------------------------------------ rewards


def test_right_wrong_and_partly_right_answers(rollout: Rollout) -> None:
    right = "def square(x):\n    return x * x\n"
    assert metrics(rollout(answering(SQUARE, right))) == (1.0, 1.0, 1.0, 4.0, 4.0)
    assert metrics(rollout(answering(SQUARE, "def square(x):\n    return x * x + 1\n"))) == (0.0, 0.0, 1.0, 0.0, 4.0)
    partly = "def square(x):\n    return x * x if x > 0 else x\n"  # wrong for -4 only
    assert metrics(rollout(answering(SQUARE, partly))) == (0.75, 0.0, 1.0, 3.0, 4.0)
    raises = "def square(x):\n    if x % 2:\n        raise ValueError(x)\n    return x * x\n"  # fails the odd ones
    assert metrics(rollout(answering(SQUARE, raises))) == (0.5, 0.0, 1.0, 2.0, 4.0)


def test_the_last_block_of_the_final_message_is_what_counts(rollout: Rollout) -> None:
    wrong, right = "def square(x):\n    return 0\n", "def square(x):\n    return x ** 2\n"
    text = f"First try:\n```python\n{wrong}```\nNo, this:\n```python\n{right}```\nThat is all."
    assert rollout(with_script(SQUARE, {"say": text}))["reward"] == 1.0
    assert rollout(with_script(SQUARE, {"say": f"```python\n{right}```\n```python\n{wrong}```"}))["reward"] == 0.0
    assert rollout(with_script(SQUARE, {"say": f"```\n{right}```"}))["reward"] == 1.0  # an untagged block too


def test_imports_and_helpers_of_the_answer_are_available(rollout: Rollout) -> None:
    code = "import math\n\ndef helper(x):\n    return math.prod([x, x])\n\ndef square(x):\n    return helper(x)\n"
    assert rollout(answering(SQUARE, code))["reward"] == 1.0


def test_a_tuple_where_a_list_is_expected_passes(rollout: Rollout) -> None:
    row = ROWS[2]  # chunk_list, chunks of 3
    code = "def chunk_list(items):\n    return tuple(tuple(items[i:i + 3]) for i in range(0, len(items), 3))\n"
    assert rollout(answering(row, code))["reward"] == 1.0


def test_a_float_within_tolerance_passes_and_an_int_for_a_float_too(rollout: Rollout) -> None:
    row = task("mean", ([[1, 2]], 1.5), ([[0.1, 0.2]], 0.15), ([[2, 2]], 2.0))
    code = "def mean(xs):\n    n, total = len(xs), sum(xs)\n    return total // n if total % n == 0 else total / n\n"
    assert metrics(rollout(answering(row, code))) == (1.0, 1.0, 1.0, 3.0, 3.0)


@pytest.mark.parametrize(
    ("value", "why"),
    [("{1, 2}", "a set"), ("object()", "an object"), ("list(range(100_000))", "a value over the harness's size cap")],
)
def test_a_value_json_cannot_carry_fails_its_test(rollout: Rollout, value: str, why: str) -> None:
    row = task("f", ([0], [1, 2]), ([1], 1))
    code = f"def f(x):\n    return 1 if x else {value}\n"
    assert metrics(rollout(answering(row, code))) == (0.5, 0.0, 1.0, 1.0, 2.0), why


# ------------------------------------------------------------------ malformed and hostile answers


@pytest.mark.parametrize(
    ("answer", "why"),
    [
        ("def square(x):\n    return x * x", "no code block"),
        ("I cannot solve this.", "no code at all"),
        ("", "an empty answer"),
        ("```python\ndef square(x)\n    return x * x\n```", "a syntax error"),
        ("```python\ndef squared(x):\n    return x * x\n```", "the function has another name"),
        ("```python\nsquare = 4\n```", "square is not a function"),
        ("```python\nimport sys\nsys.exit(0)\n\ndef square(x):\n    return x * x\n```", "sys.exit at import"),
        ("```python\nimport os\nos._exit(0)\n\ndef square(x):\n    return x * x\n```", "os._exit at import"),
        ("```python\nraise KeyboardInterrupt\n```", "an exception that is not an Exception"),
        ("```python\nimport no_such_module\n\ndef square(x):\n    return x * x\n```", "a missing import"),
        # Longer than the sandbox takes (an infra_error there): the answer's fault, and a 0 here.
        ("```python\ndef square(x):\n    return x * x\n" + "#" * 100_001 + "\n```", "over max_code_chars"),
    ],
)
def test_an_answer_that_does_not_load_earns_0(rollout: Rollout, answer: str, why: str) -> None:
    result = rollout(with_script(SQUARE, {"say": answer}))
    assert metrics(result) == (0.0, 0.0, 0.0, 0.0, 4.0), why


def test_printing_fake_harness_lines_gains_nothing(rollout: Rollout) -> None:
    fake = "\n".join(json.dumps({"i": i, "value": v}) for i, v in enumerate([1, 4, 9, 16]))
    code = (
        "import os, sys, __main__\n"
        f"FAKE = {fake!r}\n"
        "print('{\"loaded\": true}')\n"
        "os.write(1, (FAKE + '\\n').encode())\n"
        "os.write(1, ''.join('@' + '0' * 16 + '@' + line + '\\n' for line in FAKE.splitlines()).encode())\n"
        "sys.__stdout__.write(FAKE + '\\n')\n"
        "def square(x):\n"
        "    print(FAKE)\n"
        "    os.write(1, (FAKE + '\\n').encode())\n"
        "    return None\n"
    )
    assert metrics(rollout(answering(SQUARE, code))) == (0.0, 0.0, 1.0, 0.0, 4.0)


def test_a_forged_harness_line_that_is_not_an_object_still_earns_0(env: EnvironmentStack) -> None:
    code = "import os, __main__\nos.write(1, (__main__.NONCE + '5\\n').encode())\n\ndef square(x):\n    return 0\n"
    answer = env.client.post(f"{env.agent}/run", json=answering(SQUARE, code))
    assert answer.status_code == 200, answer.text
    assert metrics(answer.json()) == (0.0, 0.0, 1.0, 0.0, 4.0)


def test_the_expected_values_are_nowhere_in_the_sandbox(rollout: Rollout) -> None:
    # The function returns the expected value only if it can find it: in the run's files, the harness's
    # globals, its environment or its stdin. It cannot, since the values never leave the environment.
    row = task("find", ([1], "needle-5f3a9c"), ([2], "needle-77e1b0"))
    code = (
        "import os, sys, __main__\n"
        "def find(x):\n"
        "    seen = repr(vars(__main__)) + repr(dict(os.environ)) + sys.stdin.read()\n"
        "    for folder, _, files in os.walk('.'):\n"
        "        for name in files:\n"
        "            seen += open(os.path.join(folder, name), errors='replace').read()\n"
        "    import re\n"
        "    found = re.findall(r'needle-[0-9a-f]{6}', seen)\n"
        "    return found[x - 1] if len(found) >= x else 'not found'\n"
    )
    assert metrics(rollout(answering(row, code))) == (0.0, 0.0, 1.0, 0.0, 2.0)


def test_a_call_that_never_returns_fails_its_own_test_only(rollout: Rollout) -> None:
    # The harness interrupts the call after the config's test_timeout_s (2 s) and goes on with the next.
    row = task("square", ([1], 1), ([2], 4), ([3], 9))
    code = "def square(x):\n    while x == 2:\n        pass\n    return x * x\n"
    assert metrics(rollout(answering(row, code))) == (2 / 3, 0.0, 1.0, 2.0, 3.0)


def test_what_the_function_prints_does_not_matter(rollout: Rollout) -> None:
    code = "import sys\ndef square(x):\n    print('x' * 100_000)\n    print('!', file=sys.stderr)\n    return x * x\n"
    assert rollout(answering(SQUARE, code))["reward"] == 1.0


def test_sys_exit_inside_a_call_fails_that_test_only(rollout: Rollout) -> None:
    code = "import sys\ndef square(x):\n    if x == 3:\n        sys.exit(9)\n    return x * x\n"
    assert metrics(rollout(answering(SQUARE, code))) == (0.75, 0.0, 1.0, 3.0, 4.0)


# ------------------------------------------------------------------ the run_python tool


def test_run_python_returns_the_programs_status_and_output(episode: httpx.Client) -> None:
    answer = episode.post("/run_python", json={"code": "import sys\nprint(6 * 7)\nprint('warn', file=sys.stderr)"})
    assert answer.status_code == 200
    assert answer.json() == {"status": "ok", "exit_code": 0, "stdout": "42\n", "stderr": "warn\n"}
    failed = episode.post("/run_python", json={"code": "print('before')\n1 / 0"}).json()
    assert (failed["status"], failed["exit_code"], failed["stdout"]) == ("error", 1, "before\n")
    assert failed["stderr"].rstrip().endswith("ZeroDivisionError: division by zero")
    exited = episode.post("/run_python", json={"code": "raise SystemExit(3)"}).json()
    assert (exited["status"], exited["exit_code"]) == ("error", 3)


def test_run_python_clips_long_output(episode: httpx.Client) -> None:
    output = episode.post("/run_python", json={"code": "print('x' * 10_000)"}).json()["stdout"]
    assert output.startswith("x" * APP.TOOL_OUTPUT_CHARS + "\n... (")
    assert output.endswith(f"({10_001 - APP.TOOL_OUTPUT_CHARS} more characters)")


def test_a_model_can_try_code_then_answer(rollout: Rollout) -> None:
    code = "def square(x):\n    return x * x\n"
    turns = (
        {"calls": [{"name": "run_python", "arguments": {"code": code + "print(square(-4))"}}]},
        {"say": "It printed {{ outputs[0].stdout | trim }}.\n```python\n" + code + "```"},
    )
    result = rollout(with_script(SQUARE, *turns))
    [(_, _, output)] = tool_calls(result)
    assert output["stdout"] == "16\n"
    assert result["reward"] == 1.0


@pytest.mark.parametrize(
    "arguments",
    [{}, {"code": ""}, {"code": 12}, {"code": None}, {"program": "print(1)"}, {"code": "print('\udc80')"}],
)
def test_bad_arguments_answer_422_naming_the_field(episode: httpx.Client, arguments: dict[str, Any]) -> None:
    body = json.dumps(arguments)  # ASCII JSON: a lone surrogate travels as its \\u escape
    answer = episode.post("/run_python", content=body, headers={"content-type": "application/json"})
    assert answer.status_code == 422
    assert "code:" in answer.json()["error"]


# ------------------------------------------------------------------ bad rows and bodies


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"entry_point": None}, "entry_point"),
        ({"tests": None}, "tests"),
        ({"tests": []}, "tests"),
        ({"entry_point": "not a name"}, "entry_point"),
        ({"entry_point": 7}, "entry_point"),
        ({"tests": [{"expected": 1}]}, "tests.0.args"),
        ({"tests": [{"args": 1, "expected": 1}]}, "tests.0.args"),
        ({"tests": "[]"}, "tests"),
    ],
)
def test_a_row_without_usable_entry_point_or_tests_is_refused_at_seed_session(
    env: EnvironmentStack, change: dict[str, Any], field: str
) -> None:
    row = {key: value for key, value in ROWS[0].items() if key not in change}
    row.update({key: value for key, value in change.items() if value is not None})
    seeded = env.client.post(f"{env.resources}/seed_session", json=row)
    assert 400 <= seeded.status_code < 500
    assert field in seeded.json()["error"]
    answer = env.client.post(f"{env.agent}/run", json=row)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert field in answer.json()["error"]


@pytest.mark.parametrize("route", ["run_python", "seed_session", "verify"])
def test_a_body_that_is_not_json_answers_400(episode: httpx.Client, route: str) -> None:
    answer = episode.post(f"/{route}", content=b"code=x", headers={"content-type": "application/json"})
    assert answer.status_code == 400
    assert answer.json()["error"].startswith("request body is not valid JSON")


def test_verify_without_a_response_answers_422(episode: httpx.Client) -> None:
    answer = episode.post("/verify", json=ROWS[0])
    assert answer.status_code == 422
    assert "response: Field required" in answer.json()["error"]

"""Fuzzing the sandbox's /execute in-process: no request, however malformed, gets a 5xx.

Hypothesis builds bodies from the shapes that once answered 500 (NUL or over-long file names, a file
that is also a folder, lone surrogates in code or stdin) and from anything JSON can carry, with a fixed
budget and no deadline, so the test costs the same on every run. Bodies are sent as ASCII JSON with
\\u escapes, as a client that does not check its strings would send them. A second test checks that a
sandbox that cannot run honestly answers 503, which environments turn into an infrastructure error.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gymbox.sandbox.protocol import Limits
from gymbox.sandbox.server import PythonSandboxConfig, PythonSandboxServer

BUDGET = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture],
)

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())  # surrogates too
tricky_names = st.sampled_from(
    ["", "/", ".", "..", "a", "a/b", "a/b/c", "../x", "a//b", "a/", "main.py", "main.py/x", "x" * 300, "n\x00ul"]
)
names = st.one_of(tricky_names, st.text(any_char, max_size=20), st.text("ab/.", max_size=8))
codes = st.one_of(
    st.sampled_from(["print(1)", "", "import sys; sys.exit(3)", "print(input())", "raise SystemExit('x')"]),
    st.text(any_char, max_size=40),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(any_char, max_size=10),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner, max_size=3),
    max_leaves=8,
)
limit_values = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True), st.integers(-(2**70), 2**70), json_values, st.just(0.5)
)
limits = st.dictionaries(st.one_of(st.sampled_from(list(Limits.model_fields)), st.text(max_size=8)), limit_values)
bodies = st.one_of(
    st.fixed_dictionaries(
        {"code": codes},
        optional={
            "stdin": st.text(any_char, max_size=20),
            "files": st.dictionaries(names, st.text(any_char, max_size=10), max_size=4),
            "limits": limits,
        },
    ),
    st.dictionaries(st.sampled_from(["code", "stdin", "files", "limits", "extra"]), json_values),
    json_values,
)


@pytest.fixture(scope="module")
def client() -> Iterator[TestClient]:
    config = PythonSandboxConfig(
        limits=Limits(wall_s=3, cpu_s=2, memory_mb=256, output_kb=4), max_concurrency=2, max_code_kb=16
    )
    with TestClient(PythonSandboxServer(config, name="fuzzed").build_app()) as client:
        yield client


@BUDGET
@given(body=bodies)
def test_no_request_gets_a_5xx(client: TestClient, body: Any) -> None:
    answer = client.post("/execute", content=json.dumps(body).encode(), headers={"content-type": "application/json"})
    assert answer.status_code < 500, (body, answer.text)
    if answer.status_code == 200:
        assert answer.json()["status"] in ("ok", "error", "timeout", "cpu_limit", "killed")
    else:
        assert answer.json()["error"]


def test_a_sandbox_without_room_to_run_answers_503_not_a_result() -> None:
    config = PythonSandboxConfig(max_concurrency=1, min_free_mb=2**40)  # more free space than any disk has
    with TestClient(PythonSandboxServer(config, name="full").build_app()) as client:
        answer = client.post("/execute", json={"code": "print(1)"})
    assert answer.status_code == 503
    assert "full cannot run code honestly now" in answer.json()["error"]
    assert "MiB free" in answer.json()["error"]

"""Fuzzing a resources server, an agent and two model servers (the scripted model, and the openai_model
proxy in front of a healthy upstream): no request, however malformed, gets a 5xx.

The weather environment runs as it does in its own tests: each server a real uvicorn server on
127.0.0.1 (the agent reaches its healthy peers over HTTP), the scripted model as the policy. Hypothesis
builds bodies from each route's real shape with fields swapped for anything JSON can carry (lone
surrogates, deep nesting, wrong types), scripts that make the model call unknown tools with broken
arguments or say broken templates, cookies of no session, and bytes that are no JSON at all. With every
peer up, a 5xx would mean gymbox failed, so none is allowed: not even the agent's 502, whose meaning is
"a peer is down". The budget is fixed (derandomized, bounded examples, no deadline), so the test costs
the same on every run. The sandbox, the fourth server kind, has its own: tests/test_sandbox_fuzz.py.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from gymbox.model_servers.openai_model import OpenAIModelConfig, OpenAIModelServer
from gymbox.protocol import SESSION_COOKIE
from gymbox.testing import EnvironmentStack, environment_stack, read_rows, serve_app
from tests.chat_completions_double import ChatCompletionsDouble

ENV_DIR = Path(__file__).resolve().parents[1] / "environments" / "example_single_tool_call"
ROW = read_rows(ENV_DIR / "data" / "example.jsonl")[0]

BUDGET = settings(
    max_examples=50,
    deadline=None,
    derandomize=True,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)

any_char = st.characters(min_codepoint=0, max_codepoint=0x10FFFF, blacklist_categories=())  # surrogates too
texts = st.one_of(
    st.text(any_char, max_size=12),
    st.sampled_from(["", "\ud800", "\x00", "{{", "{{ outputs[9].x }}", "{% for %}", "{{ 1/0 }}", "Paris"]),
)
json_values: st.SearchStrategy[Any] = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | texts,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(texts, inner, max_size=3),
    max_leaves=8,
)
deep = st.integers(1, 500).map(lambda n: json.loads("[" * n + "]" * n))  # json.dumps stops near 1,000


def mutated(base: dict[str, Any]) -> st.SearchStrategy[Any]:
    """`base` with some fields replaced by anything, some removed, some added; or anything at all."""
    keys = st.sampled_from([*base, "extra", ""])
    changes = st.dictionaries(keys, st.one_of(json_values, deep), max_size=3)
    removed = st.sets(st.sampled_from(list(base)), max_size=2)
    shaped = st.builds(
        lambda ch, rm: {k: v for k, v in {**base, **ch}.items() if k not in rm or k in ch}, changes, removed
    )
    return st.one_of(shaped, json_values, deep)


calls = st.fixed_dictionaries(
    {
        "name": st.one_of(st.sampled_from(["get_weather", "verify", "seed_session", "nope"]), texts),
        "arguments": st.one_of(st.fixed_dictionaries({"city": texts}), json_values, texts),
    }
)
turns = st.one_of(
    st.fixed_dictionaries({"calls": st.lists(calls, max_size=3)}, optional={"think": texts}),
    st.fixed_dictionaries({"say": texts}),
    json_values,
)
scripts = st.one_of(st.lists(turns, max_size=4).map(json.dumps), texts, json_values)


def with_script(script: Any) -> dict[str, Any]:
    params = dict(ROW["responses_create_params"])
    params["metadata"] = {"gymbox_script": script}
    return {**ROW, "responses_create_params": params}


scripted_rows = st.builds(with_script, scripts)
rows = st.one_of(scripted_rows, scripted_rows.flatmap(mutated))
params = st.one_of(
    scripted_rows.map(lambda r: r["responses_create_params"]),
    scripted_rows.flatmap(lambda r: mutated(r["responses_create_params"])),
)
chat_bodies = st.one_of(
    st.fixed_dictionaries(
        {
            "model": texts,
            "messages": st.one_of(
                st.lists(st.fixed_dictionaries({"role": texts, "content": st.one_of(texts, json_values)})),
                json_values,
            ),
        },
        optional={
            "stream": json_values,
            "tools": json_values,
            "metadata": st.builds(lambda s: {"gymbox_script": s}, scripts),
        },
    ),
    json_values,
)


def send(client: httpx.Client, url: str, body: Any, raw: bytes | None) -> httpx.Response:
    content = raw if raw is not None else json.dumps(body).encode()  # ASCII, \\u escapes: lone surrogates pass
    return client.post(url, content=content, headers={"content-type": "application/json"})


def assert_no_5xx(answer: httpx.Response, body: Any) -> None:
    assert answer.status_code < 500, (body, answer.status_code, answer.text[:2000])


raws = st.one_of(
    st.none(),
    st.none(),
    st.binary(max_size=30),
    st.just(b"\xff\xfe{"),
    st.integers(900, 20000).map(lambda n: b"[" * n + b"]" * n),
)

cookie_values = st.text(
    st.characters(min_codepoint=0x21, max_codepoint=0x7E, exclude_characters=';,"\\'), min_size=1, max_size=40
)


@pytest.fixture(scope="module")
def weather() -> Iterator[EnvironmentStack]:
    with environment_stack(ENV_DIR) as running:
        yield running


@pytest.fixture(scope="module")
def resources_routes(weather: EnvironmentStack) -> list[str]:
    """Every POST route of the resources server, from its OpenAPI schema: seed, tools, verify, metrics."""
    schema = httpx.get(f"{weather.resources}/openapi.json", timeout=30).json()
    routes = sorted(path for path, ops in schema["paths"].items() if "post" in ops)
    assert {"/seed_session", "/get_weather", "/verify", "/aggregate_metrics"} <= set(routes)
    return routes


@BUDGET
@given(data=st.data(), session=st.sampled_from(["seeded", "none", "unknown"]), raw=raws)
def test_resources_server_routes_never_answer_5xx(
    weather: EnvironmentStack, resources_routes: list[str], data: st.DataObject, session: str, raw: bytes | None
) -> None:
    route = data.draw(st.sampled_from(resources_routes))
    base = {**ROW, "response": {"output": []}} if route == "/verify" else ROW
    body = data.draw(mutated(base) if route != "/get_weather" else mutated({"city": "Paris"}))
    with httpx.Client(base_url=weather.resources, timeout=30) as client:
        if session == "seeded":
            assert client.post("/seed_session", json=ROW).status_code == 200
        elif session == "unknown":
            client.cookies.set(SESSION_COOKIE, data.draw(cookie_values))
        assert_no_5xx(send(client, route, body, raw), body)


@BUDGET
@given(route=st.sampled_from(["/run", "/v1/responses"]), data=st.data(), raw=raws)
def test_agent_never_answers_5xx_with_healthy_peers(
    weather: EnvironmentStack, route: str, data: st.DataObject, raw: bytes | None
) -> None:
    body = data.draw(rows if route == "/run" else params)
    with httpx.Client(timeout=60) as client:
        assert_no_5xx(send(client, f"{weather.agent}{route}", body, raw), body)


@BUDGET
@given(route=st.sampled_from(["/v1/responses", "/v1/chat/completions"]), data=st.data(), raw=raws)
def test_model_server_never_answers_5xx(
    weather: EnvironmentStack, route: str, data: st.DataObject, raw: bytes | None
) -> None:
    body = data.draw(params if route == "/v1/responses" else chat_bodies)
    if isinstance(body, dict) and data.draw(st.booleans()):
        body = {**body, "stream": True}
    with httpx.Client(timeout=60) as client:
        assert_no_5xx(send(client, f"{weather.urls['policy_model']}{route}", body, raw), body)


@pytest.fixture(scope="module")
def proxy() -> Iterator[str]:
    """The openai_model proxy in front of a healthy upstream: a Chat Completions test double that
    answers every request with a plain completion."""
    upstream = ChatCompletionsDouble()
    with serve_app(upstream.app) as upstream_url:
        config = OpenAIModelConfig(base_url=f"{upstream_url}/v1", model="served-model", api_key="sk-fuzz")
        with serve_app(OpenAIModelServer(config, name="policy_model").build_app()) as url:
            yield url


@BUDGET
@given(route=st.sampled_from(["/v1/responses", "/v1/chat/completions"]), data=st.data(), raw=raws)
def test_model_proxy_never_answers_5xx_with_a_healthy_upstream(
    proxy: str, route: str, data: st.DataObject, raw: bytes | None
) -> None:
    body = data.draw(params if route == "/v1/responses" else chat_bodies)
    if isinstance(body, dict) and data.draw(st.booleans()):
        body = {**body, "stream": True}
    with httpx.Client(timeout=60) as client:
        assert_no_5xx(send(client, f"{proxy}{route}", body, raw), body)


def test_a_request_the_model_refuses_is_the_rows_fault_not_an_infra_error(weather: EnvironmentStack) -> None:
    """A 400 from a healthy model (here: a script that is no JSON) makes the row invalid: a retry cannot help."""
    answer = httpx.post(f"{weather.agent}/run", json=with_script("{not json"), timeout=60)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert "the model server refused the row's request (400)" in answer.json()["error"]
    broken = with_script(json.dumps([{"say": "{{ outputs[0].weather }}"}]))  # no tool output to render from
    answer = httpx.post(f"{weather.agent}/run", json=broken, timeout=60)
    assert answer.status_code == 400, answer.text
    assert "turn 0 of the script failed to render" in answer.json()["error"]

"""simple_agent + scripted_model + a resources server, each a real uvicorn server on 127.0.0.1."""

import asyncio
import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI, Response
from fastapi.responses import JSONResponse

from gymbox.config import load_config
from gymbox.testing import running_stack

TOY_CONFIG = Path(__file__).parent / "fixtures" / "toy.yaml"
TOOLS = [
    {"type": "function", "name": name, "parameters": {"type": "object"}} for name in ("write", "read", "crash", "nap")
]


def row(script: list[dict], target: str = "hello", **extra: object) -> dict:
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": "take notes"}],
            "tools": TOOLS,
            "metadata": {"gymbox_script": json.dumps(script)},
        },
        "target": target,
        **extra,
    }


@pytest.fixture(scope="module")
def toy_stack(module_toy_environments: Path) -> Iterator[dict[str, str]]:
    with running_stack(load_config([TOY_CONFIG], model="scripted", assign_ports=False)) as urls:
        yield urls


def run(urls: dict[str, str], body: dict) -> httpx.Response:
    return httpx.post(f"{urls['toy_agent']}/run", json=body, timeout=30)


def test_run_seeds_loops_and_verifies(toy_stack: dict[str, str]) -> None:
    script = [
        {"calls": [{"name": "write", "arguments": {"text": "hello"}}]},
        {"say": "wrote {{ outputs[0].lines }} line"},
    ]
    answer = run(toy_stack, row(script))
    assert answer.status_code == 200
    body = answer.json()
    assert body["reward"] == 1.0
    assert body["status"] == "ok"
    assert body["notes_written"] == 1
    assert body["target"] == "hello"  # the task row comes back with the verdict
    kinds = [item["type"] for item in body["response"]["output"]]
    assert kinds == ["function_call", "function_call_output", "message"]
    assert body["response"]["output"][-1]["content"][0]["text"] == "wrote 1 line"


def test_seed_state_reaches_the_tools_through_the_cookie(toy_stack: dict[str, str]) -> None:
    script = [{"calls": [{"name": "read", "arguments": {}}]}, {"say": "{{ outputs[0].notes | join(',') }}"}]
    body = run(toy_stack, row(script, target="seeded", start="seeded")).json()
    assert body["response"]["output"][-1]["content"][0]["text"] == "seeded"
    assert body["reward"] == 1.0


def test_model_mistakes_go_back_to_the_model_and_the_rollout_is_scored(toy_stack: dict[str, str]) -> None:
    script = [
        {
            "calls": [
                {"name": "write", "arguments": "{not json"},
                {"name": "no_such_tool", "arguments": {}},
                {"name": "verify", "arguments": {}},
                {"name": "write", "arguments": {"wrong_field": 1}},
                {"name": "write", "arguments": {"text": "forbidden"}},
            ]
        },
        {"say": "gave up"},
    ]
    answer = run(toy_stack, row(script))
    assert answer.status_code == 200
    body = answer.json()
    assert body["reward"] == 0.0
    assert body["status"] == "ok"
    outputs = [json.loads(i["output"]) for i in body["response"]["output"] if i["type"] == "function_call_output"]
    assert "not valid JSON" in outputs[0]["error"]
    assert "unknown tool 'no_such_tool'" in outputs[1]["error"]
    assert "unknown tool 'verify'" in outputs[2]["error"]  # server routes are not tools
    assert "text: Field required" in outputs[3]["error"]
    assert outputs[4]["error"] == "that word is not allowed"


def test_usage_is_summed_over_steps(toy_stack: dict[str, str]) -> None:
    script = [
        {"calls": [{"name": "write", "arguments": {"text": "a"}}]},
        {"calls": [{"name": "write", "arguments": {"text": "hello"}}]},
        {"say": "done"},
    ]
    with httpx.Client(timeout=30) as client:
        single = client.post(
            f"{toy_stack['policy_model']}/v1/responses", json=row(script)["responses_create_params"]
        ).json()["usage"]
        usage = client.post(f"{toy_stack['toy_agent']}/run", json=row(script)).json()["response"]["usage"]
    assert usage["input_tokens"] > single["input_tokens"] * 2  # three model calls, growing input
    assert usage["total_tokens"] == usage["input_tokens"] + usage["output_tokens"]


def test_max_steps_ends_the_episode_as_a_model_error(toy_stack: dict[str, str]) -> None:
    script = [{"calls": [{"name": "write", "arguments": {"text": "x"}}]}] * 10  # config: max_steps 4
    body = run(toy_stack, row(script)).json()
    assert body["status"] == "model_error"
    assert "max_steps (4)" in body["model_error"]
    assert body["reward"] == 0.0
    assert sum(i["type"] == "function_call" for i in body["response"]["output"]) == 4


def test_a_crashing_tool_is_an_infra_error_not_a_reward(toy_stack: dict[str, str]) -> None:
    answer = run(toy_stack, row([{"calls": [{"name": "crash", "arguments": {}}]}]))
    assert answer.status_code == 502
    assert answer.json()["detail"] == {"kind": "infra_error", "failure": "server_error"}
    assert "crash" in answer.json()["error"]


def test_bad_run_body_is_rejected_with_the_field(toy_stack: dict[str, str]) -> None:
    answer = httpx.post(f"{toy_stack['toy_agent']}/run", json={"target": "x"}, timeout=10)
    assert answer.status_code == 422
    assert "responses_create_params" in answer.json()["error"]


def test_responses_endpoint_runs_the_loop_and_keeps_the_session(toy_stack: dict[str, str]) -> None:
    params = row([{"calls": [{"name": "write", "arguments": {"text": "one"}}]}, {"say": "ok"}])
    with httpx.Client(timeout=30) as client:
        first = client.post(f"{toy_stack['toy_agent']}/v1/responses", json=params["responses_create_params"])
        assert first.status_code == 200
        assert [i["type"] for i in first.json()["output"]][-1] == "message"
        # the same client (cookie) reaches the same episode
        read = row([{"calls": [{"name": "read", "arguments": {}}]}, {"say": "{{ outputs[0].notes }}"}])
        second = client.post(f"{toy_stack['toy_agent']}/v1/responses", json=read["responses_create_params"])
    assert second.json()["output"][-1]["content"][0]["text"] == "['one']"


async def test_fifty_concurrent_episodes_keep_their_own_state(toy_stack: dict[str, str]) -> None:
    async def episode(client: httpx.AsyncClient, i: int) -> dict:
        script = [
            {"calls": [{"name": "write", "arguments": {"text": f"note-{i}"}}]},
            {"calls": [{"name": "read", "arguments": {}}]},
            {"say": "{{ outputs[1].notes | join(',') }}"},
        ]
        answer = await client.post(f"{toy_stack['toy_agent']}/run", json=row(script, target=f"note-{i}"))
        return answer.json()

    async with httpx.AsyncClient(timeout=60) as client:
        results = await asyncio.gather(*(episode(client, i) for i in range(50)))
    for i, body in enumerate(results):
        assert body["reward"] == 1.0
        assert body["notes_written"] == 1
        assert body["response"]["output"][-1]["content"][0]["text"] == f"note-{i}"


def test_unreachable_peer_is_an_infra_error(toy_environments: Path) -> None:
    from gymbox.registry import build_app
    from gymbox.testing import bound_socket, serve_app

    stack = load_config([TOY_CONFIG], model="scripted", assign_ports=False)
    closed = bound_socket()  # bound, never listening: connections are refused
    for name in ("toy", "policy_model"):
        stack.instances[name].config.port = closed.getsockname()[1]
    with serve_app(build_app(stack, "toy_agent")) as agent:
        answer = httpx.post(f"{agent}/run", json=row([{"say": "hi"}]), timeout=60)
    closed.close()
    assert answer.status_code == 502
    assert answer.json()["detail"] == {"kind": "infra_error", "failure": "unreachable"}
    assert "cannot reach" in answer.json()["error"]


def test_a_row_the_environment_rejects_is_a_400_invalid_row(toy_stack: dict[str, str]) -> None:
    body = row([{"say": "hi"}])
    del body["target"]  # the toy verifier requires it
    answer = run(toy_stack, body)
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "invalid_row"}
    assert "target: Field required" in answer.json()["error"]


def test_a_row_without_tools_has_no_tool_to_call(toy_stack: dict[str, str]) -> None:
    body = row([{"calls": [{"name": "write", "arguments": {"text": "hello"}}]}, {"say": "done"}])
    body["responses_create_params"]["tools"] = []
    result = run(toy_stack, body).json()
    outputs = [json.loads(i["output"]) for i in result["response"]["output"] if i["type"] == "function_call_output"]
    assert outputs == [{"error": "unknown tool 'write'; available: []"}]
    assert result["notes_written"] == 0  # the environment never saw the call


def session_losing_resources(lose_on: str) -> FastAPI:
    """A test double of a resources server that restarted mid-episode: it seeds a session, then answers
    `lose_on` (a tool's route, or verify) with 409 session_lost, as a real one does for an unknown session."""
    app = FastAPI()

    @app.post("/seed_session")
    async def seed(response: Response) -> dict:
        response.set_cookie("gymbox_session", "before-the-restart")
        return {}

    @app.post("/{route}")
    async def call(route: str) -> JSONResponse:
        if route == lose_on:
            return JSONResponse({"error": "unknown or expired session", "kind": "session_lost"}, status_code=409)
        return JSONResponse({"lines": 1, "reward": 0.0})

    return app


@pytest.mark.parametrize("lose_on", ["write", "verify"])
def test_a_lost_session_is_an_infra_error_never_a_zero_reward(toy_environments: Path, lose_on: str) -> None:
    from gymbox.registry import build_app
    from gymbox.testing import bound_socket, serve_app

    stack = load_config([TOY_CONFIG], model="scripted", assign_ports=False)
    script = [{"calls": [{"name": "write", "arguments": {"text": "hello"}}]}, {"say": "done"}]
    resources_sock = bound_socket()
    stack.instances["toy"].config.port = resources_sock.getsockname()[1]
    with (
        serve_app(session_losing_resources(lose_on), resources_sock),
        serve_app(build_app(stack, "policy_model")) as model,
    ):
        stack.instances["policy_model"].config.port = int(model.rsplit(":", 1)[1])
        with serve_app(build_app(stack, "toy_agent")) as agent:
            answer = httpx.post(f"{agent}/run", json=row(script), timeout=60)
    assert answer.status_code == 502, answer.text
    assert answer.json()["detail"] == {"kind": "infra_error", "failure": "session_lost"}
    assert "unknown or expired session" in answer.json()["error"]

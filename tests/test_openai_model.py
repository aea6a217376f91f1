"""openai_model / vllm_model: the proxy under uvicorn, in front of the Chat Completions test double,
called with the real `openai` client."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any

import httpx
import openai
import pytest
from pydantic import ValidationError

from gymbox.config import load_config
from gymbox.model_servers.openai_model import (
    OpenAIModelConfig,
    OpenAIModelServer,
    VLLMModelConfig,
    VLLMModelServer,
)
from gymbox.registry import build_server
from gymbox.testing import bound_socket, running_stack, serve_app
from tests.chat_completions_double import ChatCompletionsDouble, Reply, completion, error, tool_call

SECRET = "sk-test-0123456789abcdef"
WEATHER_TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    "strict": False,
}

Proxy = Callable[..., AbstractContextManager[str]]


@pytest.fixture(scope="module")
def served_double() -> Iterator[tuple[ChatCompletionsDouble, str]]:
    shared = ChatCompletionsDouble()
    with serve_app(shared.app) as url:
        yield shared, f"{url}/v1"


@pytest.fixture
def double(served_double: tuple[ChatCompletionsDouble, str]) -> ChatCompletionsDouble:
    served_double[0].reset()
    return served_double[0]


@pytest.fixture
def upstream(served_double: tuple[ChatCompletionsDouble, str]) -> str:
    return served_double[1]


@pytest.fixture
def proxy(upstream: str) -> Proxy:
    """`with proxy(**config fields) as url:` an OpenAIModelServer under uvicorn, in front of the double."""

    @contextmanager
    def start(**fields: Any) -> Iterator[str]:
        fields = {"base_url": upstream, "model": "served-model", "api_key": SECRET, **fields}
        server = OpenAIModelServer(OpenAIModelConfig(**fields), name="policy_model")
        with serve_app(server.build_app()) as url:
            yield url

    return start


@pytest.fixture
async def client() -> AsyncIterator[Callable[[str], openai.AsyncOpenAI]]:
    made: list[openai.AsyncOpenAI] = []

    def make(url: str) -> openai.AsyncOpenAI:
        made.append(openai.AsyncOpenAI(base_url=f"{url}/v1", api_key="caller-key", max_retries=0))
        return made[-1]

    yield make
    for c in made:
        await c.close()


# ----------------------------------------------------------------------------------- conversion


async def test_think_block_becomes_reasoning_item_and_rest_a_message(double, proxy, client) -> None:
    double.reply(completion("<think>\n2 plus 2 is 4.\n</think>\n\nThe answer is 4."))
    with proxy() as url:
        response = await client(url).responses.create(model="anything", input="What is 2+2?")
    assert [item.type for item in response.output] == ["reasoning", "message"]
    assert response.output[0].summary[0].text == "2 plus 2 is 4."
    assert response.output_text == "The answer is 4."
    assert response.status == "completed"
    assert response.usage is not None
    assert (response.usage.input_tokens, response.usage.output_tokens) == (11, 7)
    sent = double.bodies()[0]
    assert sent["model"] == "served-model"
    assert sent["messages"] == [{"role": "user", "content": "What is 2+2?"}]


async def test_vllm_reasoning_field_becomes_reasoning_item(double, proxy, client) -> None:
    double.reply(completion("Paris.", message_extra={"reasoning_content": "France's capital."}))
    with proxy() as url:
        response = await client(url).responses.create(model="m", input="Capital of France?")
    assert response.output[0].type == "reasoning"
    assert response.output[0].summary[0].text == "France's capital."
    assert response.output_text == "Paris."


async def test_parallel_tool_calls_become_function_call_items(double, proxy, client) -> None:
    double.reply(
        completion(
            None,
            tool_calls=[
                tool_call("get_weather", '{"city": "Paris"}', "call_1"),
                tool_call("get_weather", '{"city": "Oslo"}', "call_2"),
            ],
        )
    )
    with proxy() as url:
        response = await client(url).responses.create(
            model="m", input="Weather in Paris and Oslo?", tools=[WEATHER_TOOL], tool_choice="auto"
        )
    calls = [item for item in response.output if item.type == "function_call"]
    assert [(c.call_id, c.name, json.loads(c.arguments)) for c in calls] == [
        ("call_1", "get_weather", {"city": "Paris"}),
        ("call_2", "get_weather", {"city": "Oslo"}),
    ]
    assert all(c.status == "completed" and c.id for c in calls)
    assert response.tools[0].name == "get_weather"
    sent = double.bodies()[0]
    assert sent["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "get_weather",
                "description": "Weather of a city.",
                "parameters": WEATHER_TOOL["parameters"],
            },
        }
    ]
    assert sent["tool_choice"] == "auto"


async def test_function_call_outputs_arrive_upstream_as_tool_messages(double, proxy, client) -> None:
    history = [
        {"role": "user", "content": [{"type": "input_text", "text": "Weather in Paris and Oslo?"}]},
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Two cities."}]},
        {"type": "function_call", "call_id": "call_1", "name": "get_weather", "arguments": '{"city": "Paris"}'},
        {"type": "function_call", "call_id": "call_2", "name": "get_weather", "arguments": '{"city": "Oslo"}'},
        {"type": "function_call_output", "call_id": "call_1", "output": '{"weather": "rain"}'},
        {"type": "function_call_output", "call_id": "call_2", "output": '{"weather": "snow"}'},
    ]
    double.reply(completion("Rain in Paris, snow in Oslo."))
    with proxy() as url:
        response = await client(url).responses.create(
            model="m", input=history, instructions="Be brief.", tools=[WEATHER_TOOL]
        )
    assert response.output_text == "Rain in Paris, snow in Oslo."
    messages = double.bodies()[0]["messages"]
    assert [m["role"] for m in messages] == ["system", "user", "assistant", "tool", "tool"]
    assert messages[0]["content"] == "Be brief."
    assert messages[2]["content"] == "<think>Two cities.</think>"
    assert [c["id"] for c in messages[2]["tool_calls"]] == ["call_1", "call_2"]
    assert [(m["tool_call_id"], m["content"]) for m in messages[3:]] == [
        ("call_1", '{"weather": "rain"}'),
        ("call_2", '{"weather": "snow"}'),
    ]


async def test_finish_reason_length_is_an_incomplete_response(double, proxy, client) -> None:
    double.reply(completion("<think>still thinking", finish_reason="length"))
    with proxy() as url:
        response = await client(url).responses.create(model="m", input="Prove it.", max_output_tokens=5)
    assert response.status == "incomplete"
    assert response.incomplete_details is not None
    assert response.incomplete_details.reason == "max_output_tokens"
    assert response.output[0].type == "reasoning"
    assert double.bodies()[0]["max_tokens"] == 5


async def test_token_ids_and_logprobs_land_on_the_turns_last_item(double, proxy, client) -> None:
    double.reply(
        completion(
            None,
            tool_calls=[tool_call("get_weather", '{"city": "Paris"}')],
            prompt_token_ids=[1, 2, 3],
            choice_extra={
                "token_ids": [7, 8],
                "logprobs": {
                    "content": [{"token": "token_id:7", "logprob": -0.5}, {"token": "token_id:8", "logprob": -0.25}]
                },
            },
            message_extra={"reasoning_content": "Use the tool."},
        ),
        # Older vLLM: no choice.token_ids, the ids only in the logprob tokens.
        completion(
            "Rain.",
            prompt_token_ids=[1, 2, 3, 7, 8, 9],
            choice_extra={"logprobs": {"content": [{"token": "token_id:42", "logprob": -1.0}]}},
        ),
    )
    with proxy(return_token_ids=True) as url:
        first = await client(url).responses.create(model="m", input="Weather?", tools=[WEATHER_TOOL])
        second = await client(url).responses.create(model="m", input="Again?")
    items = [item.model_dump() for item in first.output]
    assert [i["type"] for i in items] == ["reasoning", "function_call"]
    assert "prompt_token_ids" not in items[0]
    assert items[1]["prompt_token_ids"] == [1, 2, 3]
    assert items[1]["generation_token_ids"] == [7, 8]
    assert items[1]["generation_log_probs"] == [-0.5, -0.25]
    last = second.output[-1].model_dump()
    assert (last["generation_token_ids"], last["generation_log_probs"]) == ([42], [-1.0])
    sent = double.bodies()[0]
    assert sent["logprobs"] is True
    assert sent["top_logprobs"] == 0
    assert sent["return_tokens_as_token_ids"] is True
    assert sent["return_token_ids"] is True


async def test_without_return_token_ids_no_vllm_params_are_sent(double, proxy, client) -> None:
    with proxy() as url:
        await client(url).responses.create(model="m", input="hi")
    assert not {"logprobs", "return_token_ids", "return_tokens_as_token_ids"} & set(double.bodies()[0])


# ----------------------------------------------------------------------------------- failures


async def test_429_then_200_is_retried_with_backoff(double, proxy, client) -> None:
    double.reply(error(429, "rate limited"), completion("fine"))
    with proxy(max_retries=1) as url:
        started = time.monotonic()
        response = await client(url).responses.create(model="m", input="hi")
        elapsed = time.monotonic() - started
    assert response.output_text == "fine"
    assert len(double.requests) == 2
    assert elapsed >= 0.3  # the openai client's own backoff: 0.5 s minus up to 25 % jitter


async def test_persistent_500_becomes_502(double, proxy) -> None:
    fast = {"retry-after-ms": "1"}
    double.reply(*(error(500, "engine dead", headers=fast) for _ in range(3)))
    with proxy(max_retries=2) as url:
        answer = httpx.post(f"{url}/v1/responses", json={"model": "m", "input": "hi"})
    assert answer.status_code == 502
    assert answer.json()["detail"]["kind"] == "upstream_unavailable"
    assert answer.json()["error"]["code"] == "upstream_unavailable"
    assert answer.json()["error"]["type"] == "server_error"
    assert "engine dead" in answer.json()["error"]["message"]
    assert len(double.requests) == 3


async def test_an_upstream_that_says_do_not_retry_is_not_retried(double, proxy) -> None:
    double.reply(error(503, "draining", headers={"x-should-retry": "false"}))
    with proxy(max_retries=3) as url:
        answer = httpx.post(f"{url}/v1/responses", json={"input": "hi"})
    assert answer.status_code == 502
    assert len(double.requests) == 1


async def test_unreachable_upstream_becomes_502() -> None:
    closed = bound_socket()
    port = closed.getsockname()[1]
    closed.close()
    config = OpenAIModelConfig(base_url=f"http://127.0.0.1:{port}/v1", model="m", max_retries=0)
    with serve_app(OpenAIModelServer(config).build_app()) as url:
        answer = httpx.post(f"{url}/v1/responses", json={"input": "hi"})
    assert answer.status_code == 502
    assert answer.json()["detail"]["kind"] == "upstream_unavailable"


@pytest.mark.parametrize(
    "reply",
    [
        error(
            400,
            "This model's maximum context length is 32768 tokens. However, you requested 40000 tokens "
            "in the messages, Please reduce the length.",
        ),
        # older vLLM: a flat error object
        Reply(
            400,
            {
                "object": "error",
                "type": "BadRequestError",
                "param": None,
                "code": 400,
                "message": "The decoder prompt (length 40000) is longer than the maximum model length of 32768.",
            },
        ),
        error(400, "Your input exceeds the limit.", code="context_length_exceeded"),  # OpenAI's code
    ],
)
async def test_context_length_400_keeps_400_with_its_kind(double, proxy, reply: Reply) -> None:
    double.reply(reply)
    with proxy() as url:
        answer = httpx.post(f"{url}/v1/responses", json={"input": "very long"})
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "context_length_exceeded"}
    assert answer.json()["error"]["code"] == "context_length_exceeded"
    assert len(double.requests) == 1  # a 400 is never retried


async def test_other_upstream_4xx_keeps_its_status(double, proxy, client) -> None:
    double.reply(error(404, "The model `served-model` does not exist.", code="model_not_found"))
    with proxy() as url, pytest.raises(openai.NotFoundError) as raised:
        await client(url).responses.create(model="m", input="hi")
    assert raised.value.status_code == 404
    assert "does not exist" in raised.value.message
    assert raised.value.code == "upstream_error"


async def test_unconvertible_request_is_a_400(double, proxy, client) -> None:
    with proxy() as url:
        answer = httpx.post(f"{url}/v1/responses", json={"input": "hi", "tools": [{"type": "web_search"}]})
        with pytest.raises(openai.BadRequestError, match="function tools"):
            await client(url).responses.create(model="m", input="hi", tools=[{"type": "web_search"}], stream=True)
    assert answer.status_code == 400
    assert "function tools" in answer.json()["error"]["message"]
    assert double.requests == []


async def test_max_concurrency_caps_requests_in_flight(double, proxy, client) -> None:
    double.reply(*(Reply(200, completion(), delay_s=0.1) for _ in range(6)))
    with proxy(max_concurrency=2) as url:
        c = client(url)
        await asyncio.gather(*(c.responses.create(model="m", input="hi") for _ in range(6)))
    assert double.max_in_flight == 2


# ----------------------------------------------------------------------------------- streaming


async def test_responses_stream_over_chat_is_synthesized_from_the_converted_answer(double, proxy, client) -> None:
    def answer() -> dict[str, Any]:
        calls = [tool_call("get_weather", '{"city": "Paris"}', "call_1")]
        return completion("<think>Use the tool.</think>", tool_calls=calls)

    double.reply(answer(), answer())
    with proxy() as url:
        c = client(url)
        plain = await c.responses.create(model="m", input="Weather?", tools=[WEATHER_TOOL])
        async with c.responses.stream(model="m", input="Weather?", tools=[WEATHER_TOOL]) as stream:
            kinds = [event.type async for event in stream]
            streamed = await stream.get_final_response()
    assert [i.type for i in streamed.output] == [i.type for i in plain.output] == ["reasoning", "function_call"]
    call = streamed.output[1]
    assert call.type == "function_call"
    assert (call.call_id, call.name, call.arguments) == ("call_1", "get_weather", '{"city": "Paris"}')
    assert kinds[0] == "response.created"
    assert kinds[-1] == "response.completed"
    assert "response.function_call_arguments.delta" in kinds
    assert "stream" not in double.bodies()[1]  # upstream answers whole; the proxy makes the events


async def test_streamed_responses_keep_token_ids_and_incomplete_status(double, proxy, client) -> None:
    double.reply(
        completion(
            "<think>long",
            finish_reason="length",
            prompt_token_ids=[1, 2],
            choice_extra={"token_ids": [5], "logprobs": {"content": [{"token": "token_id:5", "logprob": -0.1}]}},
        )
    )
    with proxy(return_token_ids=True) as url:
        stream = await client(url).responses.create(model="m", input="Think.", stream=True)
        events = [event async for event in stream]
    last = events[-1]
    assert last.type == "response.incomplete"
    item = last.response.output[-1].model_dump()
    assert (item["prompt_token_ids"], item["generation_token_ids"], item["generation_log_probs"]) == (
        [1, 2],
        [5],
        [-0.1],
    )
    added = [e for e in events if e.type == "response.output_item.added"]
    assert "generation_token_ids" not in added[0].item.model_dump()  # ids arrive once, with the done item


async def test_chat_completion_stream_is_relayed(double, proxy, client) -> None:
    double.reply(completion("Hello there.", tool_calls=[tool_call("get_weather", "{}", "call_7")]), completion("Hi."))
    with proxy(extra_body={"top_k": 5}) as url:
        c = client(url)
        stream = await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
        chunks = [chunk async for chunk in stream]
        async with c.chat.completions.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as helper:
            final = await helper.get_final_completion()
    pieces = [choice.delta.content for chunk in chunks for choice in chunk.choices if choice.delta.content]
    assert pieces == ["Hello ", "there."]  # the upstream's own deltas, passed on as they came
    calls = [call for chunk in chunks for choice in chunk.choices for call in choice.delta.tool_calls or []]
    assert [call.id for call in calls] == ["call_7"]
    assert final.choices[0].message.content == "Hi."
    sent = double.bodies()[0]
    assert (sent["stream"], sent["model"], sent["top_k"]) == (True, "served-model", 5)


async def test_responses_stream_passes_through_in_responses_mode(double, proxy, client) -> None:
    double.reply(completion_as_response("Bonjour."))
    with proxy(api="responses") as url:
        async with client(url).responses.stream(model="m", input="Hello in French?") as stream:
            deltas = [event.delta async for event in stream if event.type == "response.output_text.delta"]
            final = await stream.get_final_response()
    assert deltas == ["Bonjour."]
    assert (final.id, final.output_text) == ("resp_upstream_1", "Bonjour.")
    assert double.requests[0].path == "/v1/responses"
    assert double.requests[0].body["stream"] is True


async def test_streaming_requests_get_errors_before_any_event(double, proxy, client) -> None:
    double.reply(
        error(400, "This model's maximum context length is 4096 tokens.", code="context_length_exceeded"),
        error(401, f"Incorrect API key provided: {SECRET}."),
    )
    with proxy() as url:
        c = client(url)
        with pytest.raises(openai.BadRequestError) as too_long:
            await c.responses.create(model="m", input="very long", stream=True)
        with pytest.raises(openai.AuthenticationError) as denied:
            await c.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}], stream=True)
    assert too_long.value.code == "context_length_exceeded"
    assert SECRET not in denied.value.message
    assert "Incorrect API key" in denied.value.message


async def test_streams_give_back_their_concurrency_slot(double, proxy, client) -> None:
    with proxy(max_concurrency=1) as url:
        c = client(url).with_options(timeout=20)

        async def one_stream() -> str:
            stream = await c.chat.completions.create(
                model="m", messages=[{"role": "user", "content": "hi"}], stream=True
            )
            return "".join([ch.choices[0].delta.content or "" async for ch in stream if ch.choices])

        assert await asyncio.gather(*(one_stream() for _ in range(4))) == ["ok"] * 4


async def test_models_lists_the_served_model(proxy, client) -> None:
    with proxy() as url:
        models = await client(url).models.list()
    assert [m.id for m in models.data] == ["served-model"]


# ----------------------------------------------------------------------------------- gymbox's agent


async def test_the_agent_runs_episodes_through_the_proxy(double, upstream, module_toy_environments) -> None:
    """simple_agent -> openai_model -> the double: a tool call and an answer, then a context overflow."""
    config = Path(__file__).parent / "fixtures" / "toy.yaml"
    sets = [f"policy_base_url={upstream}", f"policy_api_key={SECRET}", "policy_model_name=served-model"]
    stack = load_config([config], model="openai", sets=sets, env_file=Path("/dev/null"), assign_ports=False)
    row = {"responses_create_params": {"input": "Note hello.", "tools": [{"type": "function", "name": "write"}]}}
    double.reply(
        completion("<think>Write it.</think>", tool_calls=[tool_call("write", '{"text": "hello"}')]),
        completion("Done."),
        error(400, "This model's maximum context length is 4096 tokens."),
    )
    with running_stack(stack) as urls:
        ok = httpx.post(f"{urls['toy_agent']}/run", json={**row, "target": "hello"}, timeout=30).json()
        overflow = httpx.post(f"{urls['toy_agent']}/run", json={**row, "target": "x"}, timeout=30).json()
    assert (ok["status"], ok["reward"]) == ("ok", 1.0)
    assert [i["type"] for i in ok["response"]["output"]] == [
        "reasoning",
        "function_call",
        "function_call_output",
        "message",
    ]
    assert overflow["status"] == "model_error"
    assert overflow["model_error"].startswith("context length exceeded")
    assert "maximum context length is 4096 tokens" in overflow["model_error"]  # the message, not JSON


# ----------------------------------------------------------------------------------- secrets & metadata


async def test_gymbox_metadata_never_reaches_upstream(double, proxy, client) -> None:
    metadata = {"gymbox_script": '[{"say": "hi"}]', "task": "t1"}
    with proxy() as url:
        await client(url).responses.create(model="m", input="hi", metadata=metadata)
        await client(url).chat.completions.create(
            model="m", messages=[{"role": "user", "content": "hi"}], metadata=metadata
        )
    with proxy(api="responses") as url:
        double.reply({"id": "resp_1", "object": "response", "output": []})
        httpx.post(f"{url}/v1/responses", json={"input": "hi", "metadata": metadata})
    assert len(double.requests) == 3
    for recorded in double.requests:
        assert "gymbox_" not in json.dumps(recorded.body)
    assert double.requests[1].body["metadata"] == {"task": "t1"}
    assert double.requests[2].body["metadata"] == {"task": "t1"}


async def test_api_key_goes_upstream_but_never_back(double, proxy, client) -> None:
    double.reply(completion("ok"), error(401, f"Incorrect API key provided: {SECRET}."))
    with proxy() as url:
        ok = httpx.post(f"{url}/v1/responses", json={"input": "hi"})
        denied = httpx.post(f"{url}/v1/responses", json={"input": "hi"})
    assert double.requests[0].headers["authorization"] == f"Bearer {SECRET}"
    assert ok.status_code == 200
    assert denied.status_code == 401
    for answer in (ok, denied):
        assert SECRET not in answer.text
    assert SECRET not in repr(OpenAIModelConfig(base_url="http://x/v1", model="m", api_key=SECRET))


# ----------------------------------------------------------------------------------- other modes


async def test_responses_mode_passes_through(double, proxy, client) -> None:
    upstream_response = completion_as_response("Bonjour.")
    double.reply(upstream_response)
    with proxy(api="responses", extra_body={"temperature": 0.2, "top_p": 0.9}) as url:
        response = await client(url).responses.create(model="m", input="Say hello in French.", top_p=0.5)
    assert response.output_text == "Bonjour."
    assert response.id == upstream_response["id"]
    recorded = double.requests[0]
    assert recorded.path == "/v1/responses"
    assert recorded.body["model"] == "served-model"
    assert recorded.body["input"] == "Say hello in French."
    assert (recorded.body["temperature"], recorded.body["top_p"]) == (0.2, 0.5)  # the request wins


async def test_pass_through_answers_are_the_upstreams_own(double, proxy) -> None:
    upstream_response = completion_as_response("Bonjour.")
    upstream_response["output"][0] |= {
        "prompt_token_ids": [1, 2, 3],
        "generation_token_ids": [9],
        "generation_log_probs": [-0.5],
    }
    double.reply(upstream_response, completion("hi", prompt_token_ids=[4, 5]))
    with proxy(api="responses") as url:
        passed = httpx.post(f"{url}/v1/responses", json={"input": "hi"})
        chat = httpx.post(f"{url}/v1/chat/completions", json={"messages": [{"role": "user", "content": "hi"}]})
    assert passed.json() == upstream_response  # token ids and all, untouched
    assert chat.json()["prompt_token_ids"] == [4, 5]


async def test_auto_mode_falls_back_to_chat_once(double, proxy, client) -> None:
    double.reply(error(404, "Not Found"), completion("via chat"), completion("again"))
    with proxy(api="auto") as url:
        first = await client(url).responses.create(model="m", input="hi")
        second = await client(url).responses.create(model="m", input="hi")
    assert (first.output_text, second.output_text) == ("via chat", "again")
    assert [r.path for r in double.requests] == ["/v1/responses", "/v1/chat/completions", "/v1/chat/completions"]


async def test_chat_completions_pass_through(double, proxy, client) -> None:
    double.reply(completion("hello", tool_calls=[tool_call("get_weather", "{}", "call_9")]))
    with proxy(extra_body={"chat_template_kwargs": {"enable_thinking": False}}) as url:
        chat = await client(url).chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}])
        health = httpx.get(f"{url}/health")
    assert chat.choices[0].message.content == "hello"
    assert chat.choices[0].message.tool_calls is not None
    assert chat.choices[0].message.tool_calls[0].id == "call_9"
    sent = double.bodies()[0]
    assert sent["model"] == "served-model"
    assert sent["chat_template_kwargs"] == {"enable_thinking": False}
    assert health.json()["status"] == "ok"


# ----------------------------------------------------------------------------------- config & vLLM


def test_config_forbids_unknown_fields_and_requires_base_url() -> None:
    with pytest.raises(ValidationError, match="bogus"):
        OpenAIModelConfig(base_url="http://x/v1", model="m", bogus=1)
    with pytest.raises(ValidationError, match="base_url"):
        OpenAIModelConfig(model="m")


def test_vllm_model_is_built_from_the_builtin_config() -> None:
    stack = load_config(model="vllm", sets=["policy_model_name=Qwen/Qwen3-0.6B"], assign_ports=False)
    server = build_server(stack, "policy_model")
    assert isinstance(server, VLLMModelServer)
    assert server.base_url == "http://policy_model-vllm:8000/v1"
    assert server.config.return_token_ids is True
    assert VLLMModelServer.service_name("policy_model") == "policy_model-vllm"


def test_vllm_serve_args() -> None:
    config = VLLMModelConfig(
        model="Qwen/Qwen3-0.6B",
        reasoning_parser="qwen3",
        max_model_len=8192,
        tensor_parallel_size=2,
        extra_args=["--enforce-eager"],
    )
    args = VLLMModelServer.vllm_serve_args(config)
    assert args[:2] == ["--model", "Qwen/Qwen3-0.6B"]
    joined = " ".join(args)
    for expected in (
        "--enable-auto-tool-choice --tool-call-parser hermes",
        "--reasoning-parser qwen3",
        "--max-model-len 8192",
        "--gpu-memory-utilization 0.9",
        "--tensor-parallel-size 2",
        "--port 8000",
    ):
        assert expected in joined
    assert args[-1] == "--enforce-eager"
    bare = VLLMModelServer.vllm_serve_args(VLLMModelConfig(model="m", tool_call_parser=None))
    assert "--enable-auto-tool-choice" not in bare
    assert "--reasoning-parser" not in bare
    assert "--max-model-len" not in bare


def completion_as_response(text: str) -> dict[str, Any]:
    return {
        "id": "resp_upstream_1",
        "object": "response",
        "created_at": 1.0,
        "model": "served-model",
        "status": "completed",
        "parallel_tool_calls": True,
        "tool_choice": "auto",
        "tools": [],
        "output": [
            {
                "type": "message",
                "id": "msg_1",
                "role": "assistant",
                "status": "completed",
                "content": [{"type": "output_text", "text": text, "annotations": []}],
            }
        ],
    }

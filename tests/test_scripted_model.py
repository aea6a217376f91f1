"""The scripted model (a test double for an LLM): scripts from the row or from config rules; both OpenAI
APIs, streaming or not, through the real `openai` client."""

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import openai
import pytest

from gymbox.model_servers.scripted_model import ScriptedModelConfig, ScriptedModelServer
from gymbox.testing import serve_app


def client(config: dict | None = None) -> httpx.AsyncClient:
    app = ScriptedModelServer(ScriptedModelConfig.model_validate(config or {})).build_app()
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://model")


def fc_output(call_id: str, output: object) -> dict:
    return {"type": "function_call_output", "call_id": call_id, "output": json.dumps(output)}


async def test_steps_follow_the_episode_and_templates_read_tool_outputs() -> None:
    script = [
        {
            "think": "look it up",
            "calls": [{"name": "lookup", "arguments": {"q": "a"}}, {"name": "lookup", "arguments": {"q": "b"}}],
        },
        {"calls": [{"name": "submit", "arguments": {"values": "{{ [outputs[0].v, outputs[1].v] }}"}}]},
        {"say": "sum is {{ outputs[0].v + outputs[1].v }}"},
    ]
    params = {"input": [{"role": "user", "content": "go"}], "metadata": {"gymbox_script": json.dumps(script)}}
    async with client() as c:
        first = (await c.post("/v1/responses", json=params)).json()
        assert [i["type"] for i in first["output"]] == ["reasoning", "function_call", "function_call"]
        assert first["output"][0]["summary"][0]["text"] == "look it up"
        calls = first["output"][1:]
        history = [
            params["input"][0],
            *first["output"],
            fc_output(calls[0]["call_id"], {"v": 3}),
            fc_output(calls[1]["call_id"], {"v": 4}),
        ]
        second = (await c.post("/v1/responses", json={**params, "input": history})).json()
        assert json.loads(second["output"][0]["arguments"]) == {"values": [3, 4]}  # native list, not a string
        history += [*second["output"], fc_output(second["output"][0]["call_id"], {"ok": True})]
        third = (await c.post("/v1/responses", json={**params, "input": history})).json()
        assert third["output"][0]["content"][0]["text"] == "sum is 7"
        # past the end of the script: the default reply
        history += third["output"] + [{"role": "user", "content": "and?"}]
        again = (await c.post("/v1/responses", json={**params, "input": history})).json()
        assert [i["type"] for i in again["output"]] == [i["type"] for i in first["output"]]  # restarts


async def test_same_request_gives_the_same_answer() -> None:
    params = {"input": "hi", "metadata": {"gymbox_script": json.dumps([{"calls": [{"name": "t"}]}])}}
    async with client() as c:
        a = (await c.post("/v1/responses", json=params)).json()
        b = (await c.post("/v1/responses", json=params)).json()
    assert a["output"] == b["output"]


async def test_config_rules_match_the_last_user_message() -> None:
    rules = [
        {
            "match": r"weather in (?P<city>\w+)",
            "script": [{"calls": [{"name": "get_weather", "arguments": {"city": "{{ match.city }}"}}]}],
        }
    ]
    async with client({"rules": rules, "default_reply": "no idea"}) as c:
        hit = (await c.post("/v1/responses", json={"input": "What is the weather in Oslo?"})).json()
        miss = (await c.post("/v1/responses", json={"input": "Tell me a joke"})).json()
    assert json.loads(hit["output"][0]["arguments"]) == {"city": "Oslo"}
    assert miss["output"][0]["content"][0]["text"] == "no idea"


async def test_raw_string_arguments_pass_through_unparsed() -> None:
    script = [{"calls": [{"name": "t", "arguments": "{broken"}]}]
    async with client() as c:
        out = (
            await c.post("/v1/responses", json={"input": "x", "metadata": {"gymbox_script": json.dumps(script)}})
        ).json()
    assert out["output"][0]["arguments"] == "{broken"


@pytest.mark.parametrize("script", ["not json", json.dumps([{"sing": "la"}])])
async def test_an_invalid_script_is_a_400_naming_it(script: str) -> None:
    async with client() as c:
        answer = await c.post("/v1/responses", json={"input": "x", "metadata": {"gymbox_script": script}})
    assert answer.status_code == 400
    assert answer.json()["error"]["param"] == "metadata.gymbox_script"
    assert "gymbox_script" in answer.json()["error"]["message"]


async def test_a_template_error_names_the_turn() -> None:
    script = [{"say": "{{ outputs[5].x }}"}]
    async with client() as c:
        answer = await c.post("/v1/responses", json={"input": "x", "metadata": {"gymbox_script": json.dumps(script)}})
    assert answer.status_code == 400
    assert "turn 0" in answer.json()["error"]["message"]


async def test_a_single_expression_keeps_its_type_and_strings_stay_strings() -> None:
    script = [
        {
            "calls": [
                {
                    "name": "t",
                    "arguments": {
                        "n": "{{ outputs[0].n }}",
                        "s": "{{ outputs[0].s }}",
                        "both": "{{ outputs[0].n }}-{{ outputs[0].s }}",
                    },
                }
            ]
        }
    ]
    history = [
        {"role": "user", "content": "x"},
        {"type": "function_call", "call_id": "c", "name": "t", "arguments": "{}"},
        fc_output("c", {"n": 7, "s": "1e3"}),
        {"role": "user", "content": "again"},
    ]
    async with client() as c:
        out = (
            await c.post("/v1/responses", json={"input": history, "metadata": {"gymbox_script": json.dumps(script)}})
        ).json()
    assert json.loads(out["output"][0]["arguments"]) == {"n": 7, "s": "1e3", "both": "7-1e3"}


# ----------------------------------------------------------------------------------- the openai client

WEATHER_SCRIPT = json.dumps(
    [
        {"think": "Look it up.", "calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
        {"say": "It is {{ outputs[0].weather }} in Paris."},
    ]
)
WEATHER_TOOL: Any = {
    "type": "function",
    "name": "get_weather",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
}
CHAT_WEATHER_TOOL: Any = {
    "type": "function",
    "function": {"name": "get_weather", "parameters": WEATHER_TOOL["parameters"]},
}


@pytest.fixture(scope="module")
def scripted_url() -> Iterator[str]:
    server = ScriptedModelServer(ScriptedModelConfig(model="scripted-test"))
    with serve_app(server.build_app()) as url:
        yield url


@pytest.fixture
async def sdk(scripted_url: str) -> AsyncIterator[openai.AsyncOpenAI]:
    async with openai.AsyncOpenAI(base_url=f"{scripted_url}/v1", api_key="unused", max_retries=0) as c:
        yield c


async def test_responses_stream_adds_up_to_the_plain_answer(sdk: openai.AsyncOpenAI) -> None:
    metadata = {"gymbox_script": WEATHER_SCRIPT}
    plain = await sdk.responses.create(model="m", input="Weather?", tools=[WEATHER_TOOL], metadata=metadata)
    async with sdk.responses.stream(model="m", input="Weather?", tools=[WEATHER_TOOL], metadata=metadata) as stream:
        kinds = [event.type async for event in stream]
        streamed = await stream.get_final_response()
    assert (streamed.id, streamed.usage, streamed.status) == (plain.id, plain.usage, plain.status)
    # the stream helper adds `parsed_arguments` to function calls
    assert [i.model_dump(exclude={"parsed_arguments"}) for i in streamed.output] == [
        i.model_dump() for i in plain.output
    ]
    assert [item.type for item in streamed.output] == ["reasoning", "function_call"]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[-1] == "response.completed"
    assert "response.reasoning_summary_text.delta" in kinds
    assert "response.function_call_arguments.delta" in kinds

    call = streamed.output[1]
    assert call.type == "function_call"
    history: Any = [
        {"role": "user", "content": "Weather?"},
        *[item.model_dump(exclude_none=True) for item in streamed.output],
        {"type": "function_call_output", "call_id": call.call_id, "output": '{"weather": "rain"}'},
    ]
    raw = await sdk.responses.create(model="m", input=history, metadata=metadata, stream=True)
    deltas = [event.delta async for event in raw if event.type == "response.output_text.delta"]
    assert "".join(deltas) == "It is rain in Paris."


async def test_chat_completions_play_the_script_over_messages(sdk: openai.AsyncOpenAI) -> None:
    metadata = {"gymbox_script": WEATHER_SCRIPT}
    first = await sdk.chat.completions.create(
        model="m", messages=[{"role": "user", "content": "Weather?"}], tools=[CHAT_WEATHER_TOOL], metadata=metadata
    )
    message = first.choices[0].message
    assert first.choices[0].finish_reason == "tool_calls"
    assert message.model_extra is not None
    assert message.model_extra["reasoning_content"] == "Look it up."
    assert message.content is None
    assert message.tool_calls is not None
    call = message.tool_calls[0]
    assert call.type == "function"
    assert (call.function.name, json.loads(call.function.arguments)) == ("get_weather", {"city": "Paris"})

    history: Any = [
        {"role": "user", "content": "Weather?"},
        message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"weather": "rain"}'},
    ]
    second = await sdk.chat.completions.create(model="m", messages=history, metadata=metadata)
    assert second.choices[0].message.content == "It is rain in Paris."
    assert second.choices[0].finish_reason == "stop"
    assert second.usage is not None
    assert second.usage.total_tokens > 0


async def test_chat_completions_stream(sdk: openai.AsyncOpenAI) -> None:
    metadata = {"gymbox_script": WEATHER_SCRIPT}
    messages: Any = [{"role": "user", "content": "Weather?"}]
    stream = await sdk.chat.completions.create(
        model="m",
        messages=messages,
        tools=[CHAT_WEATHER_TOOL],
        metadata=metadata,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = [chunk async for chunk in stream]
    calls = [call for c in chunks for choice in c.choices for call in choice.delta.tool_calls or []]
    assert [(c.index, c.function.name if c.function else None) for c in calls] == [(0, "get_weather")]
    assert [choice.finish_reason for c in chunks for choice in c.choices][-1] == "tool_calls"
    assert chunks[-1].usage is not None

    async with sdk.chat.completions.stream(model="m", messages=[{"role": "user", "content": "hi"}]) as helper:
        final = await helper.get_final_completion()
    assert final.choices[0].message.content == "I have nothing more to add."


async def test_models_and_errors_in_openai_shape(sdk: openai.AsyncOpenAI, scripted_url: str) -> None:
    models = await sdk.models.list()
    assert [m.id for m in models.data] == ["scripted-test"]
    assert (await sdk.models.retrieve("scripted-test")).id == "scripted-test"
    with pytest.raises(openai.BadRequestError) as raised:
        await sdk.responses.create(model="m", input="x", metadata={"gymbox_script": "not json"}, stream=True)
    assert "gymbox_script" in raised.value.message
    with pytest.raises(openai.NotFoundError):
        await sdk.models.retrieve("gpt-5")
    missing = httpx.post(f"{scripted_url}/v1/embeddings", json={})
    assert missing.status_code == 404
    assert set(missing.json()["error"]) == {"message", "type", "param", "code"}

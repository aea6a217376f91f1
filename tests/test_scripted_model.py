"""The scripted model (a test double for an LLM): scripts from the row or from config rules."""

import json

import httpx
import pytest

from gymbox.model_servers.scripted_model import ScriptedModelConfig, ScriptedModelServer


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
    assert "gymbox_script" in answer.json()["error"]


async def test_a_template_error_names_the_turn() -> None:
    script = [{"say": "{{ outputs[5].x }}"}]
    async with client() as c:
        answer = await c.post("/v1/responses", json={"input": "x", "metadata": {"gymbox_script": json.dumps(script)}})
    assert answer.status_code == 400
    assert "turn 0" in answer.json()["error"]


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

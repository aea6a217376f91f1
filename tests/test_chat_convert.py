"""Responses <-> Chat Completions conversion (pure functions)."""

from __future__ import annotations

import pytest
from openai.types.responses import Response

from gymbox.model_servers.chat_convert import (
    chat_to_response,
    message_to_output,
    response_to_completion,
    responses_to_chat,
    split_reasoning,
    token_info,
    tool_choice_to_chat,
    usage_to_responses,
)
from gymbox.model_servers.chat_messages import (
    COMPLETION,
    REQUEST,
    TRAINING,
    ChatConversionError,
    items_to_messages,
    messages_to_items,
)


def input_to_messages(items: list[dict]) -> list[dict]:
    return items_to_messages(items, REQUEST)


TOOL = {
    "type": "function",
    "name": "add",
    "description": "Add two numbers.",
    "parameters": {"type": "object", "properties": {"a": {"type": "number"}}},
    "strict": True,
}


# ----------------------------------------------------------------------------------- Responses -> Chat


def test_string_input_and_instructions() -> None:
    chat = responses_to_chat(
        {
            "model": "m",
            "input": "hi",
            "instructions": "Be terse.",
            "temperature": 0.3,
            "top_p": 0.8,
            "max_output_tokens": 64,
            "store": False,
            "metadata": {"a": "b"},
        }
    )
    assert chat == {
        "model": "m",
        "temperature": 0.3,
        "top_p": 0.8,
        "max_tokens": 64,
        "messages": [{"role": "system", "content": "Be terse."}, {"role": "user", "content": "hi"}],
    }


def test_message_roles_and_content_parts() -> None:
    messages = input_to_messages(
        [
            {"type": "message", "role": "developer", "content": "Rules."},
            {"role": "system", "content": [{"type": "input_text", "text": "More rules."}]},
            {
                "role": "user",
                "content": [
                    {"type": "input_text", "text": "Look:"},
                    {"type": "input_image", "image_url": "data:image/png;base64,AAA"},
                ],
            },
            {
                "type": "message",
                "role": "assistant",
                "content": [
                    {"type": "output_text", "text": "Nice ", "annotations": []},
                    {"type": "output_text", "text": "image.", "annotations": []},
                ],
            },
        ]
    )
    assert messages == [
        {"role": "system", "content": "Rules."},
        {"role": "system", "content": [{"type": "text", "text": "More rules."}]},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "Look:"},
                {"type": "image_url", "image_url": {"url": "data:image/png;base64,AAA", "detail": "auto"}},
            ],
        },
        {"role": "assistant", "content": "Nice image."},
    ]


def test_assistant_turn_groups_reasoning_text_and_tool_calls() -> None:
    messages = input_to_messages(
        [
            {"role": "user", "content": "Add 1 and 2, twice."},
            {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Call add."}]},
            {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "On it."}]},
            {"type": "function_call", "call_id": "c1", "name": "add", "arguments": '{"a": 1}'},
            {"type": "function_call", "call_id": "c2", "name": "add", "arguments": {"a": 2}},
            {"type": "function_call_output", "call_id": "c1", "output": "3"},
            {"type": "function_call_output", "call_id": "c2", "output": [{"type": "input_text", "text": "3"}]},
            {"type": "message", "role": "assistant", "content": "Both are 3."},
        ]
    )
    assert messages == [
        {"role": "user", "content": "Add 1 and 2, twice."},
        {
            "role": "assistant",
            "content": "<think>Call add.</think>On it.",
            "tool_calls": [
                {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}},
                {"id": "c2", "type": "function", "function": {"name": "add", "arguments": '{"a": 2}'}},
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "3"},
        {"role": "tool", "tool_call_id": "c2", "content": [{"type": "text", "text": "3"}]},
        {"role": "assistant", "content": "Both are 3."},
    ]


def test_tool_calls_alone_have_null_content() -> None:
    messages = input_to_messages([{"type": "function_call", "call_id": "c1", "name": "add", "arguments": "{}"}])
    assert messages == [
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}],
        }
    ]


def test_token_fields_on_input_items_are_not_sent_upstream() -> None:
    item = {
        "type": "message",
        "role": "assistant",
        "content": "x",
        "prompt_token_ids": [1],
        "generation_token_ids": [2],
        "generation_log_probs": [-0.1],
    }
    assert input_to_messages([item]) == [{"role": "assistant", "content": "x"}]


def test_tools_tool_choice_and_parallel_calls() -> None:
    chat = responses_to_chat(
        {
            "input": "hi",
            "tools": [TOOL],
            "tool_choice": {"type": "function", "name": "add"},
            "parallel_tool_calls": False,
        }
    )
    assert chat["tools"] == [
        {
            "type": "function",
            "function": {
                "name": "add",
                "description": "Add two numbers.",
                "parameters": TOOL["parameters"],
                "strict": True,
            },
        }
    ]
    assert chat["tool_choice"] == {"type": "function", "function": {"name": "add"}}
    assert chat["parallel_tool_calls"] is False
    assert tool_choice_to_chat("required") == "required"


def test_tool_choice_is_dropped_without_tools() -> None:
    chat = responses_to_chat({"input": "hi", "tools": [], "tool_choice": "auto", "parallel_tool_calls": True})
    assert {"tools", "tool_choice", "parallel_tool_calls"}.isdisjoint(chat)


def test_reasoning_effort_text_format_and_logprobs() -> None:
    chat = responses_to_chat(
        {
            "input": "hi",
            "reasoning": {"effort": "low"},
            "top_logprobs": 3,
            "text": {"format": {"type": "json_schema", "name": "out", "schema": {"type": "object"}, "strict": True}},
        }
    )
    assert chat["reasoning_effort"] == "low"
    assert chat["response_format"] == {
        "type": "json_schema",
        "json_schema": {"name": "out", "schema": {"type": "object"}, "strict": True},
    }
    assert (chat["logprobs"], chat["top_logprobs"]) == (True, 3)
    assert "response_format" not in responses_to_chat({"input": "hi", "text": {"format": {"type": "text"}}})


def test_vendor_fields_pass_through() -> None:
    chat = responses_to_chat({"input": "hi", "top_k": 20, "chat_template_kwargs": {"enable_thinking": False}})
    assert (chat["top_k"], chat["chat_template_kwargs"]) == (20, {"enable_thinking": False})


@pytest.mark.parametrize(
    "params",
    [
        {"input": "hi", "tools": [{"type": "web_search"}]},
        {"input": "hi", "previous_response_id": "resp_1"},
        {"input": [{"type": "item_reference", "id": "x"}]},
        {"input": [{"role": "user", "content": [{"type": "input_file", "file_id": "f"}]}]},
        {"input": ["not an item"]},
        {"input": "hi", "tools": [TOOL], "tool_choice": {"type": "allowed_tools", "tools": []}},
    ],
)
def test_unconvertible_requests_raise(params: dict) -> None:
    with pytest.raises(ChatConversionError):
        responses_to_chat(params)


# ----------------------------------------------------------------------------------- Chat -> Responses


@pytest.mark.parametrize(
    ("content", "reasoning", "text"),
    [
        ("<think>\nhm\n</think>\n\nAnswer.", "hm", "Answer."),
        ("  <think>a</think>b", "a", "b"),
        ("hm, so</think>Answer.", "hm, so", "Answer."),  # the template opened <think> in the prompt
        ("<think>ran out of tok", "ran out of tok", ""),
        ("Plain answer.", None, "Plain answer."),
        ("Text <think>late</think> more", None, "Text <think>late</think> more"),
    ],
)
def test_split_reasoning(content: str, reasoning: str | None, text: str) -> None:
    assert split_reasoning(content) == (reasoning, text)


def test_message_to_output_shapes() -> None:
    items = message_to_output(
        {
            "role": "assistant",
            "content": "<think>plan</think>Calling.",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}],
        }
    )
    assert [i["type"] for i in items] == ["reasoning", "message", "function_call"]
    assert items[0]["summary"] == [{"type": "summary_text", "text": "plan"}]
    assert items[1]["content"] == [{"type": "output_text", "text": "Calling.", "annotations": []}]
    assert {k: items[2][k] for k in ("call_id", "name", "arguments", "status")} == {
        "call_id": "c1",
        "name": "add",
        "arguments": '{"a": 1}',
        "status": "completed",
    }
    assert items[2]["id"].startswith("fc_")


def test_an_empty_turn_is_an_empty_message_and_tool_calls_need_no_message() -> None:
    assert [i["type"] for i in message_to_output({"role": "assistant", "content": None})] == ["message"]
    only_calls = message_to_output(
        {"role": "assistant", "content": "", "tool_calls": [{"id": "c1", "function": {"name": "f", "arguments": "{}"}}]}
    )
    assert [i["type"] for i in only_calls] == ["function_call"]


def test_refusal_becomes_a_refusal_part() -> None:
    [item] = message_to_output({"role": "assistant", "content": None, "refusal": "I can't."})
    assert item["content"] == [{"type": "refusal", "refusal": "I can't."}]


def test_chat_to_response_validates_as_openai_response() -> None:
    completion = {
        "id": "chatcmpl-1",
        "created": 123,
        "model": "qwen",
        "choices": [
            {
                "index": 0,
                "finish_reason": "tool_calls",
                "message": {
                    "role": "assistant",
                    "content": None,
                    "reasoning": "think",
                    "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "add", "arguments": "{}"}}],
                },
            }
        ],
        "usage": {
            "prompt_tokens": 10,
            "completion_tokens": 5,
            "total_tokens": 15,
            "prompt_tokens_details": {"cached_tokens": 4},
        },
    }
    request = {"input": "hi", "tools": [TOOL], "tool_choice": "auto", "metadata": {"k": "v"}, "temperature": 0.5}
    response = Response.model_validate(chat_to_response(completion, request, model="fallback"))
    assert response.model == "qwen"
    assert response.status == "completed"
    assert response.created_at == 123
    assert [i.type for i in response.output] == ["reasoning", "function_call"]
    assert response.tools[0].name == "add"
    assert response.metadata == {"k": "v"}
    assert response.usage is not None
    assert response.usage.input_tokens_details.cached_tokens == 4


@pytest.mark.parametrize(
    ("finish", "status", "reason"),
    [
        ("stop", "completed", None),
        ("length", "incomplete", "max_output_tokens"),
        ("content_filter", "incomplete", "content_filter"),
    ],
)
def test_finish_reason_maps_to_status(finish: str, status: str, reason: str | None) -> None:
    completion = {"choices": [{"finish_reason": finish, "message": {"role": "assistant", "content": "x"}}]}
    response = Response.model_validate(chat_to_response(completion, {"input": "hi"}, model="m"))
    assert response.status == status
    assert (response.incomplete_details.reason if response.incomplete_details else None) == reason
    assert response.model == "m"


def test_a_completion_without_choices_raises() -> None:
    with pytest.raises(ChatConversionError):
        chat_to_response({"choices": []}, {"input": "hi"}, model="m")


def test_usage_mapping() -> None:
    assert usage_to_responses(None) is None
    assert usage_to_responses(
        {"prompt_tokens": 3, "completion_tokens": 2, "completion_tokens_details": {"reasoning_tokens": 1}}
    ) == {
        "input_tokens": 3,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": 2,
        "output_tokens_details": {"reasoning_tokens": 1},
        "total_tokens": 5,
    }


# ----------------------------------------------------------------------------------- token ids


def _logprobs(*pairs: tuple[str, float]) -> dict:
    return {"content": [{"token": t, "logprob": lp} for t, lp in pairs]}


def test_token_info_from_vllm_return_token_ids() -> None:
    completion = {
        "prompt_token_ids": [1, 2],
        "choices": [
            {"token_ids": [5, 6], "logprobs": _logprobs(("token_id:5", -0.1), ("token_id:6", -0.2)), "message": {}}
        ],
    }
    assert token_info(completion) == {
        "prompt_token_ids": [1, 2],
        "generation_token_ids": [5, 6],
        "generation_log_probs": [-0.1, -0.2],
    }


def test_token_info_from_logprob_tokens_alone() -> None:
    completion = {"prompt_token_ids": [1], "choices": [{"logprobs": _logprobs(("token_id:9", -1.5)), "message": {}}]}
    assert token_info(completion) == {
        "prompt_token_ids": [1],
        "generation_token_ids": [9],
        "generation_log_probs": [-1.5],
    }


def test_token_info_from_a_message_bundle() -> None:
    bundle = {"prompt_token_ids": [1], "generation_token_ids": [2], "generation_log_probs": [-0.3]}
    assert token_info({"choices": [{"message": {"content": "x", **bundle}}]}) == bundle


@pytest.mark.parametrize(
    "completion",
    [
        {"choices": [{"message": {"content": "x"}}]},  # nothing asked for
        {"choices": [{"logprobs": _logprobs(("token_id:9", -1.0)), "message": {}}]},  # no prompt ids
        {"prompt_token_ids": [1], "choices": [{"logprobs": _logprobs(("hello", -1.0)), "message": {}}]},  # text tokens
    ],
)
def test_token_info_is_none_when_incomplete(completion: dict) -> None:
    assert token_info(completion) is None


def test_token_ids_go_on_the_last_item_only() -> None:
    completion = {
        "prompt_token_ids": [1],
        "choices": [
            {
                "finish_reason": "stop",
                "logprobs": _logprobs(("token_id:3", -0.5)),
                "token_ids": [3],
                "message": {"role": "assistant", "content": "<think>r</think>done"},
            }
        ],
    }
    output = chat_to_response(completion, {"input": "hi"}, model="m", with_token_ids=True)["output"]
    assert "generation_token_ids" not in output[0]
    assert output[1]["generation_token_ids"] == [3]
    plain = chat_to_response(completion, {"input": "hi"}, model="m")["output"]
    assert "generation_token_ids" not in plain[-1]


# ----------------------------------------------------------------------------------- one turn, three styles


TURN = [
    {"role": "developer", "content": "Rules."},
    {"role": "user", "content": "Add."},
    {"type": "reasoning", "summary": [{"type": "summary_text", "text": "Call add."}]},
    {"type": "function_call", "call_id": "c1", "name": "add", "arguments": {"a": 1}},
]


def test_the_same_items_in_each_style() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "add", "arguments": '{"a": 1}'}}
    assert items_to_messages(TURN, REQUEST)[0]["role"] == "system"
    assert items_to_messages(TURN, REQUEST)[2] == {
        "role": "assistant",
        "content": "<think>Call add.</think>",
        "tool_calls": [call],
    }
    assert items_to_messages(TURN, TRAINING)[0]["role"] == "developer"
    assert items_to_messages(TURN, TRAINING)[2] == {
        "role": "assistant",
        "content": "",
        "reasoning_content": "Call add.",
        "tool_calls": [call],
    }
    assert items_to_messages(TURN[2:], COMPLETION) == [
        {"role": "assistant", "content": None, "reasoning_content": "Call add.", "tool_calls": [call]}
    ]


def test_errors_name_the_field_and_the_item() -> None:
    with pytest.raises(ChatConversionError, match=r"response\.output\[1\]: item of type 'web_search_call'"):
        items_to_messages([TURN[2], {"type": "web_search_call"}], TRAINING, label="response.output")
    with pytest.raises(ChatConversionError, match=r"input\[0\]: function_call item has no 'name'"):
        items_to_messages([{"type": "function_call", "call_id": "c"}], REQUEST)


def test_chat_messages_become_items_and_back() -> None:
    messages = [*items_to_messages(TURN, TRAINING), {"role": "tool", "tool_call_id": "c1", "content": "3"}]
    items = messages_to_items(messages)
    assert [i["type"] for i in items] == ["message", "message", "reasoning", "function_call", "function_call_output"]
    assert items_to_messages(items, TRAINING) == messages


def test_a_response_as_a_chat_completion() -> None:
    response = {
        "id": "resp_1",
        "model": "m",
        "created_at": 5,
        "status": "incomplete",
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Hal"}]}],
        "usage": {"input_tokens": 3, "output_tokens": 1, "total_tokens": 4},
    }
    completion = response_to_completion(response)
    assert completion["choices"][0]["message"] == {"role": "assistant", "content": "Hal"}
    assert completion["choices"][0]["finish_reason"] == "length"
    assert completion["usage"] == {"prompt_tokens": 3, "completion_tokens": 1, "total_tokens": 4}

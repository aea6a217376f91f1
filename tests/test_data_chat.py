"""Responses items -> chat training messages (`gymbox.data.chat`): the turn boundaries and the edge cases."""

from __future__ import annotations

import pytest

from gymbox.data.chat import chat_tools, prompt_messages, rollout_messages
from gymbox.model_servers.chat_messages import ChatConversionError


def call(call_id: str) -> dict:
    return {"type": "function_call", "call_id": call_id, "name": "f", "arguments": {"x": 1}}


def test_instructions_and_a_string_input_make_system_and_user_messages() -> None:
    assert prompt_messages({"instructions": "Be brief.", "input": "Hi"}) == [
        {"role": "system", "content": "Be brief."},
        {"role": "user", "content": "Hi"},
    ]


def test_prior_turns_in_the_input_keep_their_roles_and_calls() -> None:
    items = [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
        call("c1"),
        {"type": "function_call_output", "call_id": "c1", "output": [{"type": "input_text", "text": "42"}]},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "again"},
    ]
    assert rollout_messages(items) == [
        {"role": "system", "content": "S"},
        {"role": "user", "content": "U"},
        {
            "role": "assistant",
            "content": "",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "42"},
        {"role": "assistant", "content": "A"},
        {"role": "user", "content": "again"},
    ]


def test_text_after_calls_and_reasoning_after_an_answer_start_new_turns() -> None:
    """A model_error episode can end on calls with no output, or think again after answering."""
    items = [
        {"type": "reasoning", "summary": [{"type": "summary_text", "text": "r1"}]},
        call("c1"),
        {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "done"}]},
        {"type": "reasoning", "content": [{"type": "reasoning_text", "text": "r2"}]},
    ]
    assert rollout_messages(items) == [
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "r1",
            "tool_calls": [{"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"x": 1}'}}],
        },
        {"role": "assistant", "content": "done"},
        {"role": "assistant", "content": "", "reasoning_content": "r2"},
    ]


def test_a_refusal_is_text_and_other_items_are_errors() -> None:
    refusal = {"type": "message", "role": "assistant", "content": [{"type": "refusal", "refusal": "No."}]}
    assert rollout_messages([refusal]) == [{"role": "assistant", "content": "No."}]
    with pytest.raises(ChatConversionError, match="'web_search_call'"):
        rollout_messages([{"type": "web_search_call", "id": "ws"}])
    with pytest.raises(ChatConversionError, match="only function tools"):
        chat_tools([{"type": "web_search"}])

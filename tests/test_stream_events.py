"""Streams synthesized from a finished answer (`stream_events`): what the SDK-level tests do not reach."""

from __future__ import annotations

from gymbox.model_servers.stream_events import completion_chunks, response_events


def test_a_refusal_and_an_incomplete_status_stream_as_openai_sends_them() -> None:
    refusal = {"type": "refusal", "refusal": "No."}
    message = {"type": "message", "id": "msg_1", "role": "assistant", "status": "completed", "content": [refusal]}
    response = {"id": "resp_1", "status": "incomplete", "output": [message], "usage": {"total_tokens": 3}}
    events = list(response_events(response))
    assert [e["type"] for e in events] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        "response.refusal.delta",
        "response.refusal.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.incomplete",
    ]
    assert [e["sequence_number"] for e in events] == list(range(len(events)))
    assert events[0]["response"]["status"] == "in_progress"
    assert events[0]["response"]["usage"] is None
    assert events[2]["item"] == {**message, "content": [], "status": "in_progress"}
    assert events[-1]["response"] is response


def test_chat_chunks_add_up_to_the_message_and_usage_comes_last() -> None:
    call = {"id": "call_1", "type": "function", "function": {"name": "f", "arguments": "{}"}}
    completion = {
        "id": "chatcmpl-1",
        "created": 1,
        "model": "m",
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": "Hi.", "reasoning_content": "r", "tool_calls": [call]},
                "finish_reason": "tool_calls",
            }
        ],
        "usage": {"prompt_tokens": 1, "completion_tokens": 2, "total_tokens": 3},
    }
    chunks = list(completion_chunks(completion, include_usage=True))
    deltas = [c["choices"][0]["delta"] for c in chunks[:-1]]
    assert deltas == [
        {"role": "assistant", "content": ""},
        {"reasoning_content": "r"},
        {"content": "Hi."},
        {"tool_calls": [{"index": 0, **call}]},
        {},
    ]
    assert chunks[-2]["choices"][0]["finish_reason"] == "tool_calls"
    assert chunks[-1] == {
        **{k: chunks[0][k] for k in ("id", "created", "model", "object")},
        "choices": [],
        "usage": completion["usage"],
    }
    assert len(list(completion_chunks(completion))) == len(chunks) - 1

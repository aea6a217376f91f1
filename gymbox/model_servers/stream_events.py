"""Streaming events synthesized from a finished answer, for servers that have the whole answer at once.

The scripted model, and the proxy when it converts a chat completion into a Responses object, know the
whole answer before the first byte goes out. They still stream when asked, because agent frameworks and
the `openai` client's `responses.stream()` / `chat.completions.create(stream=True)` expect events: each
text, arguments or reasoning summary arrives as one delta, framed by the added/done events OpenAI sends.

- `response_events(response)`: `response.created`, `response.in_progress`, per output item
  `output_item.added` … `output_item.done` (with content-part, text, refusal, function-call-arguments
  and reasoning-summary events), then `response.completed` (or `response.incomplete` / `response.failed`)
  carrying the whole response, token ids included.
- `completion_chunks(completion)`: a role chunk, reasoning and content deltas, one chunk per tool call,
  the finish reason, and (with `include_usage`) a usage chunk.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

_FINAL_EVENTS = {"completed": "response.completed", "incomplete": "response.incomplete", "failed": "response.failed"}


def response_events(response: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The events of a Responses stream that ends with `response`, sequence numbers from 0."""
    events = _ResponseEvents()
    opening = {**response, "status": "in_progress", "output": [], "usage": None, "incomplete_details": None}
    yield events.make("response.created", response=opening)
    yield events.make("response.in_progress", response=opening)
    for index, item in enumerate(response.get("output") or []):
        yield from events.item(index, item)
    final = _FINAL_EVENTS.get(str(response.get("status")), "response.completed")
    yield events.make(final, response=response)


class _ResponseEvents:
    def __init__(self) -> None:
        self.sequence = 0

    def make(self, kind: str, **fields: Any) -> dict[str, Any]:
        event = {"type": kind, "sequence_number": self.sequence, **fields}
        self.sequence += 1
        return event

    def item(self, index: int, item: dict[str, Any]) -> Iterator[dict[str, Any]]:
        kind = item.get("type")
        at = {"item_id": item.get("id", ""), "output_index": index}
        if kind == "message":
            yield self.make("response.output_item.added", output_index=index, item=_opened(item, content=[]))
            for part_index, part in enumerate(item.get("content") or []):
                yield from self._content_part(at, part_index, part)
        elif kind == "function_call":
            yield self.make("response.output_item.added", output_index=index, item=_opened(item, arguments=""))
            arguments = item.get("arguments", "")
            yield self.make("response.function_call_arguments.delta", **at, delta=arguments)
            yield self.make("response.function_call_arguments.done", **at, name=item.get("name"), arguments=arguments)
        elif kind == "reasoning":
            yield self.make("response.output_item.added", output_index=index, item=_opened(item, summary=[]))
            for summary_index, part in enumerate(item.get("summary") or []):
                text = part.get("text", "")
                where = {**at, "summary_index": summary_index}
                yield self.make("response.reasoning_summary_part.added", **where, part={**part, "text": ""})
                yield self.make("response.reasoning_summary_text.delta", **where, delta=text)
                yield self.make("response.reasoning_summary_text.done", **where, text=text)
                yield self.make("response.reasoning_summary_part.done", **where, part=part)
        else:  # an item with nothing to stream arrives whole
            yield self.make("response.output_item.added", output_index=index, item=item)
        yield self.make("response.output_item.done", output_index=index, item=item)

    def _content_part(self, at: dict[str, Any], content_index: int, part: dict[str, Any]) -> Iterator[dict[str, Any]]:
        where = {**at, "content_index": content_index}
        if part.get("type") == "output_text":
            text = part.get("text", "")
            yield self.make("response.content_part.added", **where, part={**part, "text": "", "annotations": []})
            yield self.make("response.output_text.delta", **where, delta=text, logprobs=[])
            yield self.make("response.output_text.done", **where, text=text, logprobs=[])
        elif part.get("type") == "refusal":
            refusal = part.get("refusal", "")
            yield self.make("response.content_part.added", **where, part={**part, "refusal": ""})
            yield self.make("response.refusal.delta", **where, delta=refusal)
            yield self.make("response.refusal.done", **where, refusal=refusal)
        else:
            yield self.make("response.content_part.added", **where, part=part)
        yield self.make("response.content_part.done", **where, part=part)


def _opened(item: dict[str, Any], **empty: Any) -> dict[str, Any]:
    """The item as `output_item.added` shows it: in progress, its streamed field empty, no token ids yet."""
    kept = {k: v for k, v in item.items() if not k.endswith(("token_ids", "log_probs"))}
    return {**kept, **empty, "status": "in_progress"} if "status" in item else {**kept, **empty}


def completion_chunks(completion: dict[str, Any], *, include_usage: bool = False) -> Iterator[dict[str, Any]]:
    """The chunks of a Chat Completions stream that adds up to `completion` (choice by choice)."""
    head: dict[str, Any] = {k: completion[k] for k in ("id", "created", "model") if k in completion}
    head["object"] = "chat.completion.chunk"

    def chunk(index: int, delta: dict[str, Any], finish_reason: str | None = None) -> dict[str, Any]:
        choice = {"index": index, "delta": delta, "logprobs": None, "finish_reason": finish_reason}
        return {**head, "choices": [choice]}

    for choice in completion.get("choices") or []:
        index = choice.get("index", 0)
        message = choice.get("message") or {}
        yield chunk(index, {"role": "assistant", "content": ""})
        reasoning = message.get("reasoning_content")
        if reasoning:
            yield chunk(index, {"reasoning_content": reasoning})
        if message.get("content"):
            yield chunk(index, {"content": message["content"]})
        if message.get("refusal"):
            yield chunk(index, {"refusal": message["refusal"]})
        for call_index, call in enumerate(message.get("tool_calls") or []):
            yield chunk(index, {"tool_calls": [{"index": call_index, **call}]})
        yield chunk(index, {}, choice.get("finish_reason") or "stop")
    if include_usage and completion.get("usage") is not None:
        yield {**head, "choices": [], "usage": completion["usage"]}

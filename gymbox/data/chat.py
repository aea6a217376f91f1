"""Responses API items -> OpenAI chat messages, as training data (SFT / DPO rows).

`gymbox.model_servers.chat_convert` converts a *request* for a Chat Completions server, and makes choices that
suit serving but lose information in a training set: reasoning is folded into the content as
`<think>…</think>`, `developer` becomes `system`, and content stays in parts. Here, instead:

- Content is plain text (text parts joined); a non-text part (an image) is an error, not silently dropped.
- Roles are kept as written (`system`, `developer`, `user`, `assistant`); the trainer's chat template
  decides what `developer` means.
- A reasoning item becomes `reasoning_content` on the assistant message that follows it (the field vLLM
  and most open-model chat templates use), not text in `content`.
- One model turn (reasoning?, message?, function_call*) becomes one assistant message, its function calls
  as `tool_calls` (arguments as the JSON string the model wrote); each `function_call_output` becomes a
  `role: tool` message with its `tool_call_id`.
- An assistant message with only tool calls has `content: ""`, not null: some chat templates and Arrow
  schemas choke on a null content.

Tools reuse `chat_convert.tool_to_chat`, and reasoning text `chat_convert.reasoning_text`.
"""

from __future__ import annotations

import json
from typing import Any

from gymbox.model_servers.chat_convert import ChatConversionError, reasoning_text, tool_to_chat

_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "reasoning_text")


class ConversionError(ValueError):
    """An item has no faithful text-only chat form (the caller adds where it came from)."""


def prompt_messages(create_params: dict[str, Any]) -> list[dict[str, Any]]:
    """`instructions` (as a system message) and `input` of a Responses create body, as chat messages."""
    messages = []
    if create_params.get("instructions"):
        messages.append({"role": "system", "content": _text(create_params["instructions"])})
    items = create_params.get("input") or []
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    return messages + items_to_messages(items)


def chat_tools(tools: list[dict[str, Any]] | None) -> list[dict[str, Any]]:
    try:
        return [tool_to_chat(tool) for tool in tools or []]
    except ChatConversionError as exc:
        raise ConversionError(str(exc)) from None


def items_to_messages(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses input or output items -> chat messages (see the module docstring for the choices)."""
    messages: list[dict[str, Any]] = []
    turn = _Turn()
    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ConversionError(f"item {index}: expected an object, got {type(item).__name__}")
        kind = item.get("type") or ("message" if "role" in item else None)
        role = item.get("role")
        if kind == "reasoning":
            if turn.content or turn.tool_calls:  # reasoning after an answer or calls opens the next turn
                turn.flush_into(messages)
            turn.reasoning.append(reasoning_text(item))
        elif kind == "message" and role == "assistant":
            if turn.tool_calls:
                turn.flush_into(messages)
            turn.content.append(_text(item.get("content", "")))
        elif kind == "function_call":
            turn.tool_calls.append(
                {
                    "id": item.get("call_id") or item.get("id"),
                    "type": "function",
                    "function": {"name": item.get("name", ""), "arguments": _arguments(item.get("arguments", ""))},
                }
            )
        elif kind == "function_call_output":
            turn.flush_into(messages)
            messages.append(
                {"role": "tool", "tool_call_id": item.get("call_id"), "content": _text(item.get("output", ""))}
            )
        elif kind == "message" and role in ("system", "developer", "user"):
            turn.flush_into(messages)
            messages.append({"role": role, "content": _text(item.get("content", ""))})
        else:
            raise ConversionError(f"item {index}: {kind!r} (role {role!r}) has no chat message form")
    turn.flush_into(messages)
    return messages


class _Turn:
    """The assistant-side items of one model turn, waiting to become one assistant message."""

    def __init__(self) -> None:
        self.reasoning: list[str] = []
        self.content: list[str] = []
        self.tool_calls: list[dict[str, Any]] = []

    def flush_into(self, messages: list[dict[str, Any]]) -> None:
        if not (self.reasoning or self.content or self.tool_calls):
            return
        message: dict[str, Any] = {"role": "assistant", "content": "".join(self.content)}
        reasoning = "\n".join(text for text in self.reasoning if text)
        if reasoning:
            message["reasoning_content"] = reasoning
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        messages.append(message)
        self.reasoning, self.content, self.tool_calls = [], [], []


def _text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        return json.dumps(content, ensure_ascii=False)  # a tool's structured output, as the model saw it
    texts = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            texts.append(part.get("text", ""))
        elif kind == "refusal":
            texts.append(part.get("refusal", ""))
        else:
            raise ConversionError(f"content part {kind!r} is not text; only text can go in a chat training row")
    return "".join(texts)


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)

"""Responses API items <-> chat messages: the one place an episode's items become chat messages and back.

`items_to_messages` walks the items once. One model turn (reasoning?, message?, function_call*) becomes one
assistant message with its calls as `tool_calls`; each `function_call_output` becomes a `role: tool`
message; text after calls, or reasoning after an answer or calls, opens the next assistant turn.

What the messages are for decides the details, so a `ChatStyle` says them:
- `REQUEST`, a Chat Completions request to a model server: reasoning folds into the content as
  `<think>…</think>` (a chat template that expects its past reasoning sees it; templates that drop it, like
  Qwen3's, drop it themselves); `developer` becomes `system` (many open-model templates reject unknown
  roles, and OpenAI treats a system message as the developer's); content parts and images are kept; an
  assistant message with only calls has `content: null`, as OpenAI writes it.
- `TRAINING`, SFT/DPO rows: reasoning goes in `reasoning_content` (the field vLLM and most open-model
  templates use); roles stay as written; content is one string, and a non-text part (an image) is an
  error rather than silently dropped; an assistant message with only calls has `content: ""`, because
  some chat templates and Arrow schemas choke on null.
- `COMPLETION`, the message of a chat completion a model server answers: `reasoning_content`, text
  content, `content: null` beside calls.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from gymbox.protocol import input_items

THINK_OPEN, THINK_CLOSE = "<think>", "</think>"
_TEXT_PARTS = ("input_text", "output_text", "text", "summary_text", "reasoning_text")


class ChatConversionError(ValueError):
    """Responses items or a request hold something chat messages cannot express (the message says where)."""


@dataclass(frozen=True)
class ChatStyle:
    """How items become chat messages (see the module docstring for the three in use)."""

    think_in_content: bool  # reasoning as `<think>…</think>` before the content, else `reasoning_content`
    developer_as_system: bool
    text_only: bool  # content as one string; else user/system/tool content keeps its parts (and images)
    calls_only_content: str | None  # the content of an assistant message that has only tool calls


REQUEST = ChatStyle(think_in_content=True, developer_as_system=True, text_only=False, calls_only_content=None)
TRAINING = ChatStyle(think_in_content=False, developer_as_system=False, text_only=True, calls_only_content="")
COMPLETION = ChatStyle(think_in_content=False, developer_as_system=False, text_only=True, calls_only_content=None)


def prompt_to_messages(params: dict[str, Any], style: ChatStyle, *, label: str = "") -> list[dict[str, Any]]:
    """`instructions` (as a system message) and `input` of a Responses create body, as chat messages."""
    where = f"{label}." if label else ""
    messages = []
    if params.get("instructions"):
        messages.append({"role": "system", "content": _text(params["instructions"], f"{where}instructions")})
    return messages + items_to_messages(input_items(params.get("input")), style, label=f"{where}input")


def items_to_messages(items: list[Any], style: ChatStyle, *, label: str = "input") -> list[dict[str, Any]]:
    """Responses input or output items -> chat messages; errors name the item as `label[index]`."""
    messages: list[dict[str, Any]] = []
    turn = _Turn(style)
    for index, item in enumerate(items):
        where = f"{label}[{index}]"
        if not isinstance(item, dict):
            raise ChatConversionError(f"{where}: expected an object, got {type(item).__name__}")
        kind = item.get("type") or ("message" if "role" in item else None)
        role = item.get("role")
        if kind == "reasoning":
            text = reasoning_text(item)
            if text and (turn.content or turn.tool_calls):
                turn.flush_into(messages)
            if text:
                turn.reasoning.append(text)
        elif kind == "message" and role == "assistant":
            if turn.tool_calls:
                turn.flush_into(messages)
            turn.content.append(_text(item.get("content", ""), where))
        elif kind == "function_call":
            turn.tool_calls.append(
                {
                    "id": item.get("call_id") or item.get("id"),
                    "type": "function",
                    "function": {"name": _required(item, "name", where), "arguments": json_text(item.get("arguments"))},
                }
            )
        elif kind == "function_call_output":
            turn.flush_into(messages)
            content = _tool_output(item.get("output", ""), style, where)
            messages.append({"role": "tool", "tool_call_id": _required(item, "call_id", where), "content": content})
        elif kind == "message" and role in ("system", "developer", "user"):
            turn.flush_into(messages)
            role = "system" if role == "developer" and style.developer_as_system else role
            content = item.get("content", "")
            messages.append(
                {"role": role, "content": _text(content, where) if style.text_only else _parts(content, where)}
            )
        else:
            raise ChatConversionError(f"{where}: item of type {kind!r} (role {role!r}) has no chat message form")
    turn.flush_into(messages)
    return messages


@dataclass
class _Turn:
    """The assistant-side items of one model turn, waiting to become one assistant message."""

    style: ChatStyle
    reasoning: list[str] = field(default_factory=list)
    content: list[str] = field(default_factory=list)
    tool_calls: list[dict[str, Any]] = field(default_factory=list)

    def flush_into(self, messages: list[dict[str, Any]]) -> None:
        if not (self.reasoning or self.content or self.tool_calls):
            return
        text = "".join(self.content)
        reasoning = "\n".join(self.reasoning)
        message: dict[str, Any] = {"role": "assistant"}
        if self.style.think_in_content and reasoning:
            text = f"{THINK_OPEN}{reasoning}{THINK_CLOSE}{text}"
        message["content"] = self.style.calls_only_content if not text and self.tool_calls else text
        if reasoning and not self.style.think_in_content:
            message["reasoning_content"] = reasoning
        if self.tool_calls:
            message["tool_calls"] = self.tool_calls
        messages.append(message)
        self.reasoning, self.content, self.tool_calls = [], [], []


def reasoning_text(item: dict[str, Any]) -> str:
    """The text of a reasoning item: its summary parts, else its reasoning_text content parts."""
    parts = item.get("summary") or item.get("content") or []
    return "\n".join(part.get("text", "") for part in parts if isinstance(part, dict) and part.get("text"))


def _required(item: dict[str, Any], key: str, where: str) -> Any:
    if item.get(key) is None:
        raise ChatConversionError(f"{where}: {item.get('type')} item has no {key!r}")
    return item[key]


def json_text(value: Any) -> str:
    """Function-call arguments as the JSON string chat messages carry."""
    if value is None:
        return ""
    return value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)


def _text(content: Any, where: str) -> str:
    """Content as one string: text parts (and refusals) joined; any other part is an error."""
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
            raise ChatConversionError(f"{where}: content part {kind!r} is not text; this conversion keeps text only")
    return "".join(texts)


def _parts(content: Any, where: str) -> str | list[dict[str, Any]]:
    """User/system content for a chat request: a string, or chat parts (text and image_url)."""
    if not isinstance(content, list):
        return _text(content, where)
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS:
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and part.get("image_url"):
            parts.append(
                {"type": "image_url", "image_url": {"url": part["image_url"], "detail": part.get("detail") or "auto"}}
            )
        else:
            raise ChatConversionError(
                f"{where}: content part {kind!r} cannot be sent to a Chat Completions server (text and "
                "image_url images only)"
            )
    return parts


def _tool_output(output: Any, style: ChatStyle, where: str) -> str | list[dict[str, Any]]:
    if isinstance(output, list) and not style.text_only:
        if all(isinstance(p, dict) and p.get("type") in _TEXT_PARTS for p in output):
            return [{"type": "text", "text": p.get("text", "")} for p in output]
        raise ChatConversionError(
            f"{where}: function_call_output.output must be a string or a list of text parts to be sent to a "
            "Chat Completions server"
        )
    return _text(output, where)


# ------------------------------------------------------------------------------- chat messages -> items


def messages_to_items(messages: Any) -> list[dict[str, Any]]:
    """Chat messages -> Responses input items (what a Responses-native server makes of a chat request).

    An assistant message's `reasoning_content` (or `reasoning`) becomes a reasoning item before its text
    and its `tool_calls` function_call items; a `tool` message becomes a function_call_output.
    """
    if not isinstance(messages, list):
        raise ChatConversionError("messages: expected a list of chat messages")
    items: list[dict[str, Any]] = []
    for index, message in enumerate(messages):
        where = f"messages[{index}]"
        if not isinstance(message, dict):
            raise ChatConversionError(f"{where}: expected an object, got {type(message).__name__}")
        role = message.get("role")
        if role == "tool":
            output = message.get("content") or ""
            call_id = _required({**message, "type": "tool message"}, "tool_call_id", where)
            items.append({"type": "function_call_output", "call_id": call_id, "output": _text(output, where)})
        elif role == "assistant":
            reasoning = message.get("reasoning_content") or message.get("reasoning")
            if isinstance(reasoning, str) and reasoning:
                items.append({"type": "reasoning", "summary": [{"type": "summary_text", "text": reasoning}]})
            text = _text(message.get("content") or "", where)
            if text:
                items.append({"type": "message", "role": "assistant", "content": text})
            for call in message.get("tool_calls") or []:
                function = call.get("function") or {}
                items.append(
                    {
                        "type": "function_call",
                        "call_id": call.get("id") or "",
                        "name": function.get("name", ""),
                        "arguments": json_text(function.get("arguments")),
                    }
                )
        elif role in ("system", "developer", "user"):
            items.append({"type": "message", "role": role, "content": _text(message.get("content") or "", where)})
        else:
            raise ChatConversionError(f"{where}: role {role!r} is not a chat message role")
    return items

"""OpenAI Responses API <-> Chat Completions, as pure functions on JSON dicts.

Most open-model servers (vLLM, NIM, llama.cpp) speak Chat Completions; gymbox agents speak Responses.
`responses_to_chat` turns a Responses create body into a Chat Completions create body, and
`chat_to_response` turns the completion back into a Responses object.

Choices made here, and why:
- Reasoning items in the input are folded back as `<think>…</think>` at the start of the next assistant
  message, so a model whose chat template expects its own past reasoning sees it (templates that drop
  past reasoning, like Qwen3's, drop it themselves).
- Reasoning in a completion is read from vLLM's `reasoning_content` / `reasoning` field (reasoning parser
  on) or from `<think>…</think>` at the start of the content (parser off). A content holding `</think>`
  with no opening tag is read the same way: templates of R1-style models put `<think>` in the prompt.
- `developer` messages become `system`: many open-model chat templates reject unknown roles, and
  OpenAI's chat endpoint treats a system message as the developer message.
- Token ids (vLLM) go on the *last* output item of the turn only: NeMo RL concatenates every item's
  `generation_token_ids`, so copying them onto each item would count a turn's tokens several times.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any

TOKEN_FIELDS = ("prompt_token_ids", "generation_token_ids", "generation_log_probs")

# Responses-only create fields that have no Chat Completions counterpart (or are converted explicitly);
# every other field (temperature, top_p, user, vLLM's top_k / chat_template_kwargs, ...) passes through.
_RESPONSES_ONLY = frozenset(
    {
        "input",
        "instructions",
        "tools",
        "tool_choice",
        "parallel_tool_calls",
        "max_output_tokens",
        "text",
        "reasoning",
        "store",
        "include",
        "truncation",
        "background",
        "previous_response_id",
        "conversation",
        "prompt",
        "max_tool_calls",
        "metadata",
        "stream",
        "stream_options",
        "top_logprobs",
    }
)
_THINK_OPEN, _THINK_CLOSE = "<think>", "</think>"
_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


class ChatConversionError(ValueError):
    """A Responses request holds something Chat Completions cannot express (answered as a 400)."""


def new_id(prefix: str) -> str:
    return f"{prefix}_{uuid.uuid4().hex}"


# ------------------------------------------------------------------------------- Responses -> Chat


def responses_to_chat(params: dict[str, Any]) -> dict[str, Any]:
    """A Responses create body -> a Chat Completions create body (the caller sets `model`)."""
    if params.get("previous_response_id") or params.get("conversation"):
        raise ChatConversionError(
            "previous_response_id / conversation need a server that stores responses; "
            "send the whole conversation in `input`, or set api: responses"
        )
    out = {k: v for k, v in params.items() if k not in _RESPONSES_ONLY}
    messages = input_to_messages(params.get("input", []))
    if params.get("instructions"):
        messages.insert(0, {"role": "system", "content": params["instructions"]})
    out["messages"] = messages
    if params.get("tools"):
        out["tools"] = [tool_to_chat(tool) for tool in params["tools"]]
        # Both are rejected by OpenAI (and tool_choice by vLLM) when no tools are given.
        if params.get("tool_choice") is not None:
            out["tool_choice"] = tool_choice_to_chat(params["tool_choice"])
        if params.get("parallel_tool_calls") is not None:
            out["parallel_tool_calls"] = params["parallel_tool_calls"]
    if params.get("max_output_tokens") is not None:
        out["max_tokens"] = params["max_output_tokens"]
    if params.get("top_logprobs") is not None:
        out["logprobs"] = True
        out["top_logprobs"] = params["top_logprobs"]
    effort = (params.get("reasoning") or {}).get("effort")
    if effort is not None:
        out["reasoning_effort"] = effort
    text = params.get("text") or {}
    if text.get("format"):
        response_format = text_format_to_chat(text["format"])
        if response_format is not None:
            out["response_format"] = response_format
    if text.get("verbosity") is not None:
        out["verbosity"] = text["verbosity"]
    return out


def input_to_messages(items: str | list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Responses input items -> chat messages.

    An assistant turn may span several items (reasoning, a message, function calls); they are buffered
    and flushed as one assistant message when a non-assistant item (or the end) arrives.
    """
    if isinstance(items, str):
        return [{"role": "user", "content": items}]
    messages: list[dict[str, Any]] = []
    pending: dict[str, Any] = {"content": "", "tool_calls": []}

    def flush() -> None:
        if pending["content"] or pending["tool_calls"]:
            message: dict[str, Any] = {"role": "assistant", "content": pending["content"] or None}
            if pending["tool_calls"]:
                message["tool_calls"] = pending["tool_calls"]
            messages.append(message)
        pending["content"], pending["tool_calls"] = "", []

    for index, item in enumerate(items):
        if not isinstance(item, dict):
            raise ChatConversionError(f"input[{index}]: expected an object, got {type(item).__name__}")
        kind = item.get("type") or ("message" if "role" in item else None)
        if kind == "reasoning":
            if pending["tool_calls"]:  # reasoning after tool calls starts the next assistant turn
                flush()
            text = reasoning_text(item)
            if text:
                pending["content"] += f"{_THINK_OPEN}{text}{_THINK_CLOSE}"
        elif kind == "function_call":
            pending["tool_calls"].append(
                {
                    "id": item.get("call_id") or item.get("id"),
                    "type": "function",
                    "function": {"name": item["name"], "arguments": _arguments(item.get("arguments", ""))},
                }
            )
        elif kind == "function_call_output":
            flush()
            messages.append(
                {
                    "role": "tool",
                    "tool_call_id": item["call_id"],
                    "content": _tool_output(item.get("output", ""), index),
                }
            )
        elif kind == "message" and item.get("role") == "assistant":
            if pending["tool_calls"]:  # text after tool calls starts a new assistant message
                flush()
            pending["content"] += _text_of(item.get("content", ""), index)
        elif kind == "message" and item.get("role") in ("user", "system", "developer"):
            flush()
            role = "system" if item["role"] == "developer" else item["role"]
            messages.append({"role": role, "content": _content_to_chat(item.get("content", ""), index)})
        else:
            raise ChatConversionError(
                f"input[{index}]: item of type {kind!r} (role {item.get('role')!r}) "
                "cannot be converted to Chat Completions"
            )
    flush()
    return messages


def reasoning_text(item: dict[str, Any]) -> str:
    """The text of a reasoning item: its summary parts, else its reasoning_text content parts."""
    parts = item.get("summary") or item.get("content") or []
    return "\n".join(part.get("text", "") for part in parts if part.get("text"))


def _arguments(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value)


def _text_of(content: str | list[dict[str, Any]], index: int) -> str:
    if isinstance(content, str):
        return content
    texts = []
    for part in content:
        if part.get("type") in ("input_text", "output_text", "text"):
            texts.append(part.get("text", ""))
        elif part.get("type") == "refusal":
            texts.append(part.get("refusal", ""))
        else:
            raise ChatConversionError(f"input[{index}]: assistant content part {part.get('type')!r} is not text")
    return "".join(texts)


def _content_to_chat(content: str | list[dict[str, Any]], index: int) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    parts: list[dict[str, Any]] = []
    for part in content:
        kind = part.get("type")
        if kind in ("input_text", "output_text", "text"):
            parts.append({"type": "text", "text": part.get("text", "")})
        elif kind == "input_image" and part.get("image_url"):
            parts.append(
                {"type": "image_url", "image_url": {"url": part["image_url"], "detail": part.get("detail") or "auto"}}
            )
        else:
            raise ChatConversionError(
                f"input[{index}]: content part {kind!r} cannot be converted to Chat "
                "Completions (text and image_url images only)"
            )
    return parts


def _tool_output(output: Any, index: int) -> str | list[dict[str, Any]]:
    if isinstance(output, str):
        return output
    if isinstance(output, list) and all(p.get("type") in ("input_text", "output_text") for p in output):
        return [{"type": "text", "text": p.get("text", "")} for p in output]
    raise ChatConversionError(
        f"input[{index}]: function_call_output.output must be a string or a list of "
        "text parts to be sent to a Chat Completions server"
    )


def tool_to_chat(tool: dict[str, Any]) -> dict[str, Any]:
    """`{"type":"function","name",...}` -> `{"type":"function","function":{"name",...}}`."""
    if tool.get("type") != "function":
        raise ChatConversionError(
            f"tool {tool.get('name') or tool.get('type')!r}: only function tools can be "
            "sent to a Chat Completions server"
        )
    if "function" in tool:  # already in chat form
        return tool
    function = {k: tool[k] for k in ("name", "description", "parameters") if tool.get(k) is not None}
    # strict=false is the default everywhere; vLLM templates may render an unknown key into the prompt.
    if tool.get("strict"):
        function["strict"] = True
    return {"type": "function", "function": function}


def tool_choice_to_chat(choice: str | dict[str, Any]) -> str | dict[str, Any]:
    if isinstance(choice, str):
        return choice
    if choice.get("type") == "function" and "name" in choice:
        return {"type": "function", "function": {"name": choice["name"]}}
    raise ChatConversionError(f"tool_choice {choice!r} cannot be converted to Chat Completions")


def text_format_to_chat(fmt: dict[str, Any]) -> dict[str, Any] | None:
    """Responses `text.format` -> chat `response_format` (None for plain text)."""
    kind = fmt.get("type")
    if kind == "text":
        return None
    if kind == "json_object":
        return {"type": "json_object"}
    if kind == "json_schema":
        schema = {k: fmt[k] for k in ("name", "description", "schema", "strict") if k in fmt}
        return {"type": "json_schema", "json_schema": schema}
    raise ChatConversionError(f"text.format type {kind!r} cannot be converted to Chat Completions")


# ------------------------------------------------------------------------------- Chat -> Responses


def split_reasoning(content: str) -> tuple[str | None, str]:
    """`<think>r</think>answer` -> ("r", "answer"); content without leading reasoning -> (None, content).

    An unterminated `<think>` (the model ran out of tokens while thinking) is all reasoning.
    """
    stripped = content.lstrip()
    if stripped.startswith(_THINK_OPEN):
        body = stripped[len(_THINK_OPEN) :]
        end = body.find(_THINK_CLOSE)
        if end < 0:
            return body.strip(), ""
        return body[:end].strip(), body[end + len(_THINK_CLOSE) :].lstrip()
    end = content.find(_THINK_CLOSE)
    if end >= 0 and _THINK_OPEN not in content[:end]:
        return content[:end].strip(), content[end + len(_THINK_CLOSE) :].lstrip()
    return None, content


def message_to_output(message: dict[str, Any]) -> list[dict[str, Any]]:
    """One chat assistant message -> Responses output items: reasoning?, message?, function_call*."""
    items: list[dict[str, Any]] = []
    # vLLM < 0.16 names the parser's output `reasoning_content`, later versions `reasoning`.
    parsed = message.get("reasoning_content") or message.get("reasoning")
    think, text = split_reasoning(message.get("content") or "")
    reasoning = "\n".join(r for r in (parsed if isinstance(parsed, str) else None, think) if r)
    if reasoning:
        items.append(
            {
                "type": "reasoning",
                "id": new_id("rs"),
                "status": "completed",
                "summary": [{"type": "summary_text", "text": reasoning}],
            }
        )
    tool_calls = message.get("tool_calls") or []
    refusal = message.get("refusal")
    # A turn with nothing else still yields a (possibly empty) message, so the agent sees a final answer.
    if text or refusal or not (items or tool_calls):
        content: list[dict[str, Any]] = []
        if text or not refusal:
            content.append({"type": "output_text", "text": text, "annotations": []})
        if refusal:
            content.append({"type": "refusal", "refusal": refusal})
        items.append(
            {"type": "message", "id": new_id("msg"), "role": "assistant", "status": "completed", "content": content}
        )
    for call in tool_calls:
        function = call.get("function") or {}
        items.append(
            {
                "type": "function_call",
                "id": new_id("fc"),
                "call_id": call.get("id") or new_id("call"),
                "name": function.get("name", ""),
                "arguments": _arguments(function.get("arguments", "")),
                "status": "completed",
            }
        )
    return items


def token_info(completion: dict[str, Any]) -> dict[str, list[Any]] | None:
    """vLLM's prompt/generation token ids and generation logprobs of choice 0, or None if incomplete.

    Read, in order: a bundle already on the message (NeMo RL's vLLM), then `prompt_token_ids` (top level)
    with `choices[0].token_ids` (`return_token_ids`), falling back to the ids in the logprob tokens
    (`return_tokens_as_token_ids` writes them as "token_id:123").
    """
    choice = (completion.get("choices") or [{}])[0]
    message = choice.get("message") or {}
    if all(message.get(k) is not None for k in TOKEN_FIELDS):
        return {k: list(message[k]) for k in TOKEN_FIELDS}
    prompt_ids = completion.get("prompt_token_ids") or message.get("prompt_token_ids")
    entries = (choice.get("logprobs") or {}).get("content")
    if prompt_ids is None or entries is None:
        return None
    log_probs = [entry.get("logprob") for entry in entries]
    generation_ids = choice.get("token_ids")
    if generation_ids is None:
        try:
            generation_ids = [int(str(entry["token"]).removeprefix("token_id:")) for entry in entries]
        except (KeyError, ValueError):
            return None  # tokens are text: return_tokens_as_token_ids was not honoured
    return {
        "prompt_token_ids": list(prompt_ids),
        "generation_token_ids": list(generation_ids),
        "generation_log_probs": log_probs,
    }


def usage_to_responses(usage: dict[str, Any] | None) -> dict[str, Any] | None:
    if not usage:
        return None
    prompt = int(usage.get("prompt_tokens") or 0)
    completion = int(usage.get("completion_tokens") or 0)
    cached = ((usage.get("prompt_tokens_details") or {}).get("cached_tokens")) or 0
    reasoning = ((usage.get("completion_tokens_details") or {}).get("reasoning_tokens")) or 0
    return {
        "input_tokens": prompt,
        "input_tokens_details": {"cached_tokens": cached, "cache_write_tokens": 0},
        "output_tokens": completion,
        "output_tokens_details": {"reasoning_tokens": reasoning},
        "total_tokens": int(usage.get("total_tokens") or prompt + completion),
    }


def chat_to_response(
    completion: dict[str, Any], request: dict[str, Any], *, model: str, with_token_ids: bool = False
) -> dict[str, Any]:
    """A chat completion (choice 0) -> a Responses object answering the Responses `request`."""
    choices = completion.get("choices") or []
    if not choices:
        raise ChatConversionError("the chat completion has no choices")
    choice = choices[0]
    output = message_to_output(choice.get("message") or {})
    if with_token_ids:
        info = token_info(completion)
        if info is not None:
            output[-1].update(info)
    reason = _INCOMPLETE_REASONS.get(choice.get("finish_reason") or "")
    return {
        "id": new_id("resp"),
        "object": "response",
        "created_at": float(completion.get("created") or time.time()),
        "model": completion.get("model") or model,
        "status": "incomplete" if reason else "completed",
        "incomplete_details": {"reason": reason} if reason else None,
        "error": None,
        "output": output,
        "instructions": request.get("instructions"),
        "metadata": request.get("metadata"),
        "parallel_tool_calls": request.get("parallel_tool_calls", True),
        "tool_choice": request.get("tool_choice") or "auto",
        "tools": request.get("tools") or [],
        "temperature": request.get("temperature"),
        "top_p": request.get("top_p"),
        "max_output_tokens": request.get("max_output_tokens"),
        "usage": usage_to_responses(completion.get("usage")),
    }

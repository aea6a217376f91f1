"""OpenAI Responses API <-> Chat Completions, as pure functions on JSON dicts.

Most open-model servers (vLLM, NIM, llama.cpp) speak Chat Completions; gymbox agents speak Responses.
`responses_to_chat` turns a Responses create body into a Chat Completions create body, and
`chat_to_response` turns the completion back into a Responses object. `response_to_completion` goes the
other way, for a server that thinks in Responses but is asked for a chat completion (the scripted model).

Choices made here, and why:
- Input items become messages in `chat_messages` (style `REQUEST`: reasoning folded back as
  `<think>…</think>`, `developer` as `system`).
- Reasoning in a completion is read from vLLM's `reasoning_content` / `reasoning` field (reasoning parser
  on) or from `<think>…</think>` at the start of the content (parser off). A content holding `</think>`
  with no opening tag is read the same way: templates of R1-style models put `<think>` in the prompt.
- Token ids (vLLM) go on the *last* output item of the turn only: NeMo RL concatenates every item's
  `generation_token_ids`, so copying them onto each item would count a turn's tokens several times.
"""

from __future__ import annotations

import random
import time
from typing import Any

from gymbox.model_servers.chat_messages import (
    COMPLETION,
    REQUEST,
    THINK_CLOSE,
    THINK_OPEN,
    ChatConversionError,
    items_to_messages,
    json_text,
    prompt_to_messages,
)

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
_INCOMPLETE_REASONS = {"length": "max_output_tokens", "content_filter": "content_filter"}


# Ids need to be unique, not secret: a generator of this module's own, seeded once from the OS, instead of
# uuid4's read of os.urandom (a system call) for every item of every answer.
_ID_BITS = random.Random()


def new_id(prefix: str) -> str:
    return f"{prefix}_{_ID_BITS.getrandbits(128):032x}"


# ------------------------------------------------------------------------------- Responses -> Chat


def responses_to_chat(params: dict[str, Any]) -> dict[str, Any]:
    """A Responses create body -> a Chat Completions create body (the caller sets `model`)."""
    if params.get("previous_response_id") or params.get("conversation"):
        raise ChatConversionError(
            "previous_response_id / conversation need a server that stores responses; "
            "send the whole conversation in `input`, or set api: responses"
        )
    out = {k: v for k, v in params.items() if k not in _RESPONSES_ONLY}
    out["messages"] = prompt_to_messages(params, REQUEST)
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
    if stripped.startswith(THINK_OPEN):
        body = stripped[len(THINK_OPEN) :]
        end = body.find(THINK_CLOSE)
        if end < 0:
            return body.strip(), ""
        return body[:end].strip(), body[end + len(THINK_CLOSE) :].lstrip()
    end = content.find(THINK_CLOSE)
    if end >= 0 and THINK_OPEN not in content[:end]:
        return content[:end].strip(), content[end + len(THINK_CLOSE) :].lstrip()
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
                "arguments": json_text(function.get("arguments")),
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


_FINISH_REASONS = {"max_output_tokens": "length", "content_filter": "content_filter"}


def response_to_completion(response: dict[str, Any]) -> dict[str, Any]:
    """A Responses object -> a chat completion with one choice (its output as one assistant message)."""
    messages = items_to_messages(response.get("output") or [], COMPLETION, label="output")
    if len(messages) != 1:
        raise ChatConversionError(f"output: {len(messages)} assistant turns; a chat completion holds one")
    message = messages[0]
    reason = (response.get("incomplete_details") or {}).get("reason")
    finish = _FINISH_REASONS.get(reason or "") or ("tool_calls" if message.get("tool_calls") else "stop")
    usage = response.get("usage") or {}
    return {
        "id": "chatcmpl-" + str(response.get("id", new_id("resp"))).removeprefix("resp_"),
        "object": "chat.completion",
        "created": int(response.get("created_at") or time.time()),
        "model": response.get("model", ""),
        "choices": [{"index": 0, "message": message, "finish_reason": finish, "logprobs": None}],
        "usage": {
            "prompt_tokens": usage.get("input_tokens", 0),
            "completion_tokens": usage.get("output_tokens", 0),
            "total_tokens": usage.get("total_tokens", 0),
        },
    }

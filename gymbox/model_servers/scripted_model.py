"""`scripted_model`: a deterministic test double that stands in for an LLM. It needs no network or GPU.

It answers `/v1/responses` from a *script*: a list of turns, turn i answering the i-th model step of the
episode (steps are counted since the last user message):

    [{"think": "optional reasoning", "calls": [{"name": "get_weather", "arguments": {"city": "Paris"}}]},
     {"say": "It is {{ outputs[0].weather }} in Paris."}]

A turn with `calls` emits function calls (several = parallel calls; `arguments` may be a raw string, to
play a model that writes malformed JSON); a turn with only `say` ends the episode. Strings are Jinja2
templates over `outputs` (the JSON-parsed tool outputs of the episode, in order) and `match` (the named
groups of the rule that matched); a string that is one `{{ ... }}` expression keeps its native type.

The script comes from the request's `metadata.gymbox_script` (a JSON string, so a data row can carry its
own), else from the first config rule whose `match` regex finds the last user message, else the model
says `default_reply`. Past the end of its script it says `default_reply` too.

It speaks both APIs, streaming or not, like a real endpoint: `POST /v1/responses`, and
`POST /v1/chat/completions` (the messages become Responses items, the answer one assistant message with
`reasoning_content` and `tool_calls`); with `stream: true` the answer comes as server-sent events. Also
`GET /v1/models`; errors take OpenAI's shape.
"""

from __future__ import annotations

import hashlib
import json
import re
import time
from functools import lru_cache, partial
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from jinja2 import Environment, StrictUndefined
from pydantic import BaseModel, ConfigDict, Field

from gymbox import json_codec
from gymbox.model_servers.chat_convert import response_to_completion
from gymbox.model_servers.chat_messages import ChatConversionError, messages_to_items
from gymbox.model_servers.openai_app import (
    CHAT_STREAM_END,
    ModelServerError,
    chat_chunk_bytes,
    create_model_app,
    json_object,
    response_event_bytes,
    sse_whole,
)
from gymbox.model_servers.stream_events import completion_chunks, response_events
from gymbox.protocol import input_items
from gymbox.servers.app import EscapingJSONResponse, direct_post

SCRIPT_METADATA_KEY = "gymbox_script"
TEMPLATE_CACHE_SIZE = 1024
_SINGLE_EXPRESSION = re.compile(r"\{\{((?:(?!\{\{|\}\}).)*)\}\}", re.S)  # `{{ expr }}` and nothing else
_ASSISTANT_ITEMS = {"function_call", "reasoning"}


class ScriptedCall(BaseModel):
    model_config = ConfigDict(extra="forbid")
    name: str
    arguments: dict[str, Any] | str = Field(default_factory=dict)


class ScriptedTurn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    think: str | None = None
    calls: list[ScriptedCall] = Field(default_factory=list)
    say: str | None = None


class ScriptRule(BaseModel):
    model_config = ConfigDict(extra="forbid")
    match: str = Field(description="regex searched in the last user message")
    script: list[ScriptedTurn]


class ScriptedModelConfig(BaseModel):
    model_config = ConfigDict(extra="forbid")
    rules: list[ScriptRule] = Field(default_factory=list)
    default_reply: str = "I have nothing more to add."
    model: str = "gymbox-scripted"


class ScriptedModelServer:
    Config = ScriptedModelConfig

    def __init__(self, config: ScriptedModelConfig | None = None, *, name: str = "", stack: Any = None) -> None:
        self.config = config or ScriptedModelConfig()
        self.name = name or "scripted_model"
        env = Environment(undefined=StrictUndefined, autoescape=False)
        # Scripts repeat across rows and turns: compiling a template costs more than the rest of a turn, so
        # compiled ones are kept (bounded, since scripts can come from each row's metadata).
        self._template = lru_cache(maxsize=TEMPLATE_CACHE_SIZE)(env.from_string)
        self._expression = lru_cache(maxsize=TEMPLATE_CACHE_SIZE)(
            partial(env.compile_expression, undefined_to_none=False)
        )
        self._rules = [(re.compile(rule.match), rule.script) for rule in self.config.rules]

    def build_app(self) -> FastAPI:
        app = create_model_app(self.name, self.config.model)

        @direct_post(app, "/v1/responses")
        async def responses(request: Request) -> Response:
            params = await json_object(request)
            response = self.respond(params)
            if params.get("stream"):
                return sse_whole(response_event_bytes(event) for event in response_events(response))
            return EscapingJSONResponse(response)

        @direct_post(app, "/v1/chat/completions")
        async def chat_completions(request: Request) -> Response:
            params = await json_object(request)
            completion = self.complete_chat(params)
            if params.get("stream"):
                include_usage = bool((params.get("stream_options") or {}).get("include_usage"))
                chunks = completion_chunks(completion, include_usage=include_usage)
                return sse_whole([*(chat_chunk_bytes(chunk) for chunk in chunks), CHAT_STREAM_END])
            return EscapingJSONResponse(completion)

        return app

    def complete_chat(self, params: dict[str, Any]) -> dict[str, Any]:
        """A Chat Completions request, answered by playing the script over its messages as Responses items."""
        try:
            items = messages_to_items(params.get("messages"))
        except ChatConversionError as exc:
            raise ModelServerError(f"scripted_model: {exc}", 400, param="messages") from None
        keep = ("metadata", "parallel_tool_calls", "temperature")
        return response_to_completion(self.respond({"input": items, **{k: params[k] for k in keep if k in params}}))

    # ------------------------------------------------------------------ the script

    def respond(self, params: dict[str, Any]) -> dict[str, Any]:
        items = [item for item in input_items(params.get("input")) if isinstance(item, dict)]
        script, match = self._script_for(params, items)
        step = _model_steps_since_user(items)
        turn = script[step] if step < len(script) else ScriptedTurn(say=self.config.default_reply)
        context = {"outputs": _tool_outputs(items), "match": match}
        try:
            seed = f"{hashlib.sha256(json_codec.dumps(items, sort_keys=True)).hexdigest()}|{step}"
            output = self._render_turn(turn, context, seed)
        except Exception as exc:  # a broken template is the script author's bug: say which turn
            from_request = SCRIPT_METADATA_KEY in (params.get("metadata") or {})  # else a config rule's
            raise ModelServerError(
                f"scripted_model: turn {step} of the script failed to render: {exc}", 400 if from_request else 500
            ) from exc
        return _response(params, output, self.config.model, items)

    def _script_for(
        self, params: dict[str, Any], items: list[dict[str, Any]]
    ) -> tuple[list[ScriptedTurn], dict[str, Any]]:
        metadata = params.get("metadata")
        if metadata is not None and not isinstance(metadata, dict):
            raise ModelServerError("scripted_model: metadata must be an object", 400, param="metadata")
        raw = (metadata or {}).get(SCRIPT_METADATA_KEY)
        if raw is not None:
            try:
                turns = json.loads(raw) if isinstance(raw, str) else raw
                return [ScriptedTurn.model_validate(t) for t in turns], {}
            except Exception as exc:
                raise ModelServerError(
                    f"scripted_model: metadata.{SCRIPT_METADATA_KEY} is not a valid script: {exc}",
                    400,
                    param=f"metadata.{SCRIPT_METADATA_KEY}",
                ) from exc
        text = _last_user_text(items)
        for pattern, script in self._rules:
            found = pattern.search(text)
            if found:
                return script, found.groupdict()
        return [], {}

    def _render_turn(self, turn: ScriptedTurn, context: dict[str, Any], seed: str) -> list[dict[str, Any]]:
        ids = _IdMaker(seed)
        out: list[dict[str, Any]] = []
        if turn.think:
            text = str(self._render(turn.think, context))
            out.append({"type": "reasoning", "id": ids("rs"), "summary": [{"type": "summary_text", "text": text}]})
        for call in turn.calls:
            args = self._render(call.arguments, context)
            arguments = args if isinstance(args, str) and isinstance(call.arguments, str) else json.dumps(args)
            out.append(
                {
                    "type": "function_call",
                    "id": ids("fc"),
                    "call_id": ids("call"),
                    "name": call.name,
                    "arguments": arguments,
                    "status": "completed",
                }
            )
        if turn.say is not None or not turn.calls:
            text = str(self._render(turn.say or "", context))
            out.append(
                {
                    "type": "message",
                    "id": ids("msg"),
                    "role": "assistant",
                    "status": "completed",
                    "content": [{"type": "output_text", "text": text, "annotations": []}],
                }
            )
        return out

    def _render(self, value: Any, context: dict[str, Any]) -> Any:
        if isinstance(value, str):
            whole = _SINGLE_EXPRESSION.fullmatch(value)
            if whole:  # the expression's own value and type; text that looks like a number stays text
                return self._expression(whole.group(1))(**context)
            return self._template(value).render(**context) if "{" in value else value
        if isinstance(value, dict):
            return {k: self._render(v, context) for k, v in value.items()}
        if isinstance(value, list):
            return [self._render(v, context) for v in value]
        return value


class _IdMaker:
    """Deterministic item ids, so the same episode always yields the same output."""

    def __init__(self, seed: str) -> None:
        self._seed = seed
        self._n = 0

    def __call__(self, prefix: str) -> str:
        self._n += 1
        return f"{prefix}_{hashlib.sha256(f'{self._seed}|{self._n}'.encode()).hexdigest()[:24]}"


def _is_user_message(item: dict[str, Any]) -> bool:
    return item.get("role") == "user" and item.get("type", "message") == "message"


def _model_steps_since_user(items: list[dict[str, Any]]) -> int:
    """How many model turns already happened since the last user message.

    A turn is a run of assistant items (reasoning, function calls, message); tool outputs separate turns.
    """
    last_user = max((i for i, item in enumerate(items) if _is_user_message(item)), default=-1)
    steps, in_turn = 0, False
    for item in items[last_user + 1 :]:
        assistant = item.get("type") in _ASSISTANT_ITEMS or item.get("role") == "assistant"
        if assistant and not in_turn:
            steps += 1
        in_turn = assistant
    return steps


def _tool_outputs(items: list[dict[str, Any]]) -> list[Any]:
    outputs = []
    for item in items:
        if item.get("type") == "function_call_output":
            raw = item.get("output", "")
            try:
                outputs.append(json.loads(raw) if isinstance(raw, str) else raw)
            except json.JSONDecodeError:
                outputs.append(raw)
    return outputs


def _text_of(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        return " ".join(str(part.get("text", "")) for part in content if isinstance(part, dict))
    return ""


def _last_user_text(items: list[dict[str, Any]]) -> str:
    for item in reversed(items):
        if _is_user_message(item):
            return _text_of(item.get("content"))
    return ""


def _count_tokens(value: Any) -> int:
    # A stand-in for a tokenizer: whitespace-separated words of the JSON text, stable across runs.
    return len(json.dumps(value).split())


def _response(
    params: dict[str, Any], output: list[dict[str, Any]], model: str, items: list[dict[str, Any]]
) -> dict[str, Any]:
    input_tokens, output_tokens = _count_tokens(items), _count_tokens(output)
    return {
        "id": "resp_" + hashlib.sha256(json_codec.dumps(output, sort_keys=True)).hexdigest()[:24],
        "object": "response",
        "created_at": int(time.time()),
        "model": model,
        "status": "completed",
        "error": None,
        "incomplete_details": None,
        "instructions": params.get("instructions"),
        "output": output,
        "parallel_tool_calls": params.get("parallel_tool_calls", True),
        "tool_choice": params.get("tool_choice", "auto"),
        "tools": params.get("tools", []),
        "temperature": params.get("temperature"),
        "metadata": params.get("metadata"),
        "usage": {
            "input_tokens": input_tokens,
            "input_tokens_details": {"cached_tokens": 0},
            "output_tokens": output_tokens,
            "output_tokens_details": {"reasoning_tokens": 0},
            "total_tokens": input_tokens + output_tokens,
        },
    }

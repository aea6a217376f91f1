"""A test double: a real HTTP server speaking the OpenAI Chat Completions API, scripted per test.

It is not a model. Each test queues the replies it wants (`double.reply(...)`): a completion body, or a
`Reply` with any status, body and headers; with nothing queued it answers a plain "ok" completion. Every
request is recorded (`double.requests`) so tests can assert what the proxy sent upstream. It also answers
`POST /v1/responses` from the same queue, for the proxy's pass-through mode. A request with `stream: true`
gets its queued 200 body as server-sent events, written here independently of gymbox's own event code:
a completion as chunks (its content in two deltas), a Responses object as the events of its messages.

    double = ChatCompletionsDouble()
    double.reply(completion("<think>hm</think>4"), error(429, "slow down"))
    with gymbox.testing.serve_app(double.app) as url:   # http://127.0.0.1:<random port>
        ...  # point the proxy at f"{url}/v1"; then read double.bodies()
"""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0  # answer this late (to hold requests in flight)


@dataclass
class Recorded:
    path: str
    body: dict[str, Any]
    headers: dict[str, str]


def tool_call(name: str, arguments: str, call_id: str | None = None) -> dict[str, Any]:
    return {
        "id": call_id or f"call_{uuid.uuid4().hex[:8]}",
        "type": "function",
        "function": {"name": name, "arguments": arguments},
    }


def completion(
    content: str | None = "ok",
    *,
    tool_calls: list[dict[str, Any]] | None = None,
    finish_reason: str | None = None,
    message_extra: dict[str, Any] | None = None,
    choice_extra: dict[str, Any] | None = None,
    **extra: Any,
) -> dict[str, Any]:
    """A Chat Completions response body with one choice."""
    message: dict[str, Any] = {"role": "assistant", "content": content, **(message_extra or {})}
    if tool_calls:
        message["tool_calls"] = tool_calls
    return {
        "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": "double-model",
        "choices": [
            {
                "index": 0,
                "message": message,
                "finish_reason": finish_reason or ("tool_calls" if tool_calls else "stop"),
                **(choice_extra or {}),
            }
        ],
        "usage": {"prompt_tokens": 11, "completion_tokens": 7, "total_tokens": 18},
        **extra,
    }


def error(status: int, message: str, *, code: str | None = None, headers: dict[str, str] | None = None) -> Reply:
    """An error the way OpenAI and recent vLLM shape it: `{"error": {"message", "type", "code"}}`."""
    return Reply(status, {"error": {"message": message, "type": "BadRequestError", "code": code}}, headers or {})


class ChatCompletionsDouble:
    def __init__(self) -> None:
        self.script: deque[Reply] = deque()
        self.requests: list[Recorded] = []
        self.in_flight = 0
        self.max_in_flight = 0
        self.app = self._build()

    def reset(self) -> None:
        """Forget the script and the recorded requests (to share one server across tests)."""
        self.script.clear()
        self.requests.clear()
        self.max_in_flight = 0

    def reply(self, *replies: dict[str, Any] | Reply) -> None:
        for item in replies:
            self.script.append(item if isinstance(item, Reply) else Reply(200, item))

    def bodies(self, path: str = "/v1/chat/completions") -> list[dict[str, Any]]:
        return [r.body for r in self.requests if r.path == path]

    def _build(self) -> FastAPI:
        app = FastAPI(title="chat-completions-double")

        async def answer(request: Request) -> Response:
            body = await request.json()
            self.requests.append(Recorded(request.url.path, body, dict(request.headers)))
            reply = self.script.popleft() if self.script else Reply(200, completion())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(reply.delay_s)
            finally:
                self.in_flight -= 1
            if body.get("stream") and reply.status == 200:
                events = (
                    chat_sse(reply.body) if request.url.path.endswith("/completions") else responses_sse(reply.body)
                )
                return StreamingResponse(iter(events), media_type="text/event-stream")
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

        app.post("/v1/chat/completions")(answer)
        app.post("/v1/responses")(answer)
        return app


def chat_sse(completion: dict[str, Any]) -> list[bytes]:
    """A completion as Chat Completions stream chunks, `data: [DONE]` last."""
    head = {"id": completion["id"], "object": "chat.completion.chunk", "created": 0, "model": completion["model"]}
    choice = completion["choices"][0]
    message = choice["message"]
    text = message.get("content") or ""
    deltas: list[dict[str, Any]] = [{"role": "assistant", "content": ""}]
    deltas += [{"content": piece} for piece in (text[: len(text) // 2], text[len(text) // 2 :]) if piece]
    deltas += [{"tool_calls": [{"index": i, **call}]} for i, call in enumerate(message.get("tool_calls") or [])]
    chunks = [{**head, "choices": [{"index": 0, "delta": delta, "finish_reason": None}]} for delta in deltas]
    chunks.append({**head, "choices": [{"index": 0, "delta": {}, "finish_reason": choice["finish_reason"]}]})
    return [f"data: {json.dumps(chunk)}\n\n".encode() for chunk in chunks] + [b"data: [DONE]\n\n"]


def responses_sse(response: dict[str, Any]) -> list[bytes]:
    """A Responses object (message items only) as the events of a Responses stream."""
    events: list[dict[str, Any]] = [{"type": "response.created", "response": {**response, "output": []}}]
    for index, item in enumerate(response["output"]):
        at = {"item_id": item["id"], "output_index": index, "content_index": 0}
        text = item["content"][0]["text"]
        events += [
            {"type": "response.output_item.added", "output_index": index, "item": {**item, "content": []}},
            {"type": "response.content_part.added", **at, "part": {"type": "output_text", "text": ""}},
            {"type": "response.output_text.delta", **at, "delta": text, "logprobs": []},
            {"type": "response.output_text.done", **at, "text": text, "logprobs": []},
            {"type": "response.content_part.done", **at, "part": item["content"][0]},
            {"type": "response.output_item.done", "output_index": index, "item": item},
        ]
    events.append({"type": "response.completed", "response": response})
    numbered = [{**event, "sequence_number": n} for n, event in enumerate(events)]
    return [f"event: {e['type']}\ndata: {json.dumps(e)}\n\n".encode() for e in numbered]

"""A test double: a real HTTP server speaking the OpenAI Chat Completions API, scripted per test.

It is not a model. Each test queues the replies it wants (`double.reply(...)`): a completion body, or a
`Reply` with any status, body and headers; with nothing queued it answers a plain "ok" completion. Every
request is recorded (`double.requests`) so tests can assert what the proxy sent upstream. It also answers
`POST /v1/responses` from the same queue, for the proxy's pass-through mode.

    double = ChatCompletionsDouble()
    double.reply(completion("<think>hm</think>4"), error(429, "slow down"))
    with gymbox.testing.serve_app(double.app) as url:   # http://127.0.0.1:<random port>
        ...  # point the proxy at f"{url}/v1"; then read double.bodies()
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections import deque
from dataclasses import dataclass, field
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse


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

        async def answer(request: Request) -> JSONResponse:
            self.requests.append(Recorded(request.url.path, await request.json(), dict(request.headers)))
            reply = self.script.popleft() if self.script else Reply(200, completion())
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            try:
                await asyncio.sleep(reply.delay_s)
            finally:
                self.in_flight -= 1
            return JSONResponse(reply.body, status_code=reply.status, headers=reply.headers)

        app.post("/v1/chat/completions")(answer)
        app.post("/v1/responses")(answer)
        return app

"""A benchmark double, not a model: an OpenAI-compatible policy that answers the weather task at once.

    python zero_latency_policy.py [PORT]      # aiohttp only; listens on 0.0.0.0:PORT (8000) in its container

`POST /v1/responses` answers a `get_weather("Paris")` function call while the input holds no
`function_call_output`, then a closing message; both are complete Responses objects made once at start,
so a request costs the policy as little as an HTTP answer can. `POST /v1/chat/completions` does the same
in Chat Completions' shape. Used by benchmarks/bench_vs_nemogym.py, so that NeMo Gym and gymbox
are timed against the same policy and neither spends time waiting for a model.
"""

from __future__ import annotations

import json
import sys
from typing import Any

from aiohttp import web


def _response(output: list[dict[str, Any]]) -> bytes:
    return json.dumps(
        {
            "id": "resp_bench",
            "object": "response",
            "created_at": 1700000000,
            "model": "policy",
            "status": "completed",
            "output": output,
            "parallel_tool_calls": True,
            "tool_choice": "auto",
            "tools": [],
            "temperature": 1.0,
            "top_p": 1.0,
            "error": None,
            "incomplete_details": None,
            "instructions": None,
            "metadata": {},
            "text": {"format": {"type": "text"}},
            "truncation": "disabled",
            "usage": {
                "input_tokens": 60,
                "input_tokens_details": {"cached_tokens": 0},
                "output_tokens": 12,
                "output_tokens_details": {"reasoning_tokens": 0},
                "total_tokens": 72,
            },
        }
    ).encode()


def _completion(message: dict[str, Any], finish_reason: str) -> bytes:
    return json.dumps(
        {
            "id": "chatcmpl-bench",
            "object": "chat.completion",
            "created": 1700000000,
            "model": "policy",
            "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}],
            "usage": {"prompt_tokens": 60, "completion_tokens": 12, "total_tokens": 72},
        }
    ).encode()


ARGUMENTS = json.dumps({"city": "Paris"})
ANSWER = "It is cold in Paris today."
CALL = _response(
    [
        {
            "type": "function_call",
            "id": "fc_bench",
            "call_id": "call_bench",
            "name": "get_weather",
            "arguments": ARGUMENTS,
            "status": "completed",
        }
    ]
)
FINAL = _response(
    [
        {
            "type": "message",
            "id": "msg_bench",
            "role": "assistant",
            "status": "completed",
            "content": [{"type": "output_text", "text": ANSWER, "annotations": []}],
        }
    ]
)
CHAT_CALL = _completion(
    {
        "role": "assistant",
        "content": None,
        "tool_calls": [
            {"id": "call_bench", "type": "function", "function": {"name": "get_weather", "arguments": ARGUMENTS}}
        ],
    },
    "tool_calls",
)
CHAT_FINAL = _completion({"role": "assistant", "content": ANSWER}, "stop")
MODELS = json.dumps({"object": "list", "data": [{"id": "policy", "object": "model", "owned_by": "bench"}]}).encode()


async def responses(request: web.Request) -> web.Response:
    # A byte search, not a parse: the tool's answer is in the input once the call was made.
    body = await request.read()
    return web.Response(body=FINAL if b'"function_call_output"' in body else CALL, content_type="application/json")


async def chat_completions(request: web.Request) -> web.Response:
    body = await request.read()
    done = b'"role":"tool"' in body or b'"role": "tool"' in body
    return web.Response(body=CHAT_FINAL if done else CHAT_CALL, content_type="application/json")


async def models(_: web.Request) -> web.Response:
    return web.Response(body=MODELS, content_type="application/json")


def main() -> None:
    app = web.Application(client_max_size=64 * 1024 * 1024)
    app.router.add_post("/v1/responses", responses)
    app.router.add_post("/v1/chat/completions", chat_completions)
    app.router.add_get("/v1/models", models)
    web.run_app(app, host="0.0.0.0", port=int(sys.argv[1]) if len(sys.argv) > 1 else 8000, access_log=None)


if __name__ == "__main__":
    main()

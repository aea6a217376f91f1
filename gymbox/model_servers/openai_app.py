"""What every gymbox model server shares with the OpenAI API around its create routes.

- Errors in OpenAI's shape, `{"error": {"message", "type", "param", "code"}}`, so the `openai` client
  raises its usual `APIStatusError` subclasses with a readable message. gymbox's own `detail` (`{"kind":
  ...}`, read by the agent) rides beside `error`; `code` carries the same kind.
- `GET /v1/models` and `GET /v1/models/{id}`, naming the one model the server answers as.
- Server-sent events: Responses events (`event: <type>` + `data:`) and Chat Completions chunks
  (`data:` only, ended by `data: [DONE]`), as OpenAI writes them.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterable, Iterable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response, StreamingResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException

from gymbox import json_codec
from gymbox.errors import describe_validation_errors
from gymbox.servers.app import EscapingJSONResponse, ToolError, create_app

SSE_HEADERS = {"Cache-Control": "no-cache", "X-Accel-Buffering": "no"}


class ModelServerError(Exception):
    """Raise from a model server to answer `status_code` with an OpenAI-shaped error.

    `code` is the machine-readable kind (`context_length_exceeded`, `upstream_unavailable`, ...), also sent
    as `detail.kind`; `detail` may add fields (`upstream_status`).
    """

    def __init__(
        self,
        message: str,
        status_code: int = 400,
        *,
        code: str | None = None,
        param: str | None = None,
        detail: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.code = code
        self.param = param
        self.detail = {"kind": code, **(detail or {})} if code else detail


def error_response(
    message: str, status: int, *, code: str | None = None, param: str | None = None, detail: Any = None
) -> EscapingJSONResponse:
    kind = "server_error" if status >= 500 else "invalid_request_error"  # OpenAI's two common types
    body: dict[str, Any] = {"error": {"message": message, "type": kind, "param": param, "code": code}}
    if detail is not None:
        body["detail"] = detail
    return EscapingJSONResponse(body, status_code=status)


def create_model_app(title: str, model: str, **kwargs: Any) -> FastAPI:
    """The shared app skeleton (`GET /health`) with OpenAI-shaped errors and `GET /v1/models`."""
    app = create_app(title, **kwargs)

    @app.exception_handler(ModelServerError)
    async def on_model_error(request: Request, exc: ModelServerError) -> EscapingJSONResponse:
        return error_response(exc.message, exc.status_code, code=exc.code, param=exc.param, detail=exc.detail)

    @app.exception_handler(ToolError)
    async def on_tool_error(request: Request, exc: ToolError) -> EscapingJSONResponse:
        return error_response(exc.message, exc.status_code, detail=exc.detail)

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> EscapingJSONResponse:
        return error_response(f"invalid request: {describe_validation_errors(list(exc.errors()))}", 400)

    @app.exception_handler(ValidationError)
    async def on_invalid_body(request: Request, exc: ValidationError) -> EscapingJSONResponse:
        return error_response(f"invalid request: {describe_validation_errors(list(exc.errors()))}", 400)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> EscapingJSONResponse:
        message = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        if exc.status_code in (404, 405):
            message = f"{request.method} {request.url.path}: {message}; this model server offers " + ", ".join(_ROUTES)
        return error_response(message, exc.status_code)

    created = int(time.time())

    def model_object(model_id: str) -> dict[str, Any]:
        return {"id": model_id, "object": "model", "created": created, "owned_by": "gymbox"}

    @app.get("/v1/models")
    async def list_models() -> dict[str, Any]:
        return {"object": "list", "data": [model_object(model)]}

    @app.get("/v1/models/{model_id:path}")
    async def retrieve_model(model_id: str) -> dict[str, Any]:
        if model_id != model:
            raise ModelServerError(
                f"model {model_id!r} is not served here; this server answers as {model!r}", 404, code="model_not_found"
            )
        return model_object(model)

    return app


_ROUTES = ("POST /v1/responses", "POST /v1/chat/completions", "GET /v1/models", "GET /health")


async def json_object(request: Request) -> dict[str, Any]:
    """The request's JSON body, which must be an object (else a 400 in OpenAI's shape)."""
    try:
        body = json_codec.loads(await request.body())
    except (ValueError, RecursionError):  # RecursionError: nested too deep
        raise ModelServerError("request body is not valid JSON", 400) from None
    if not isinstance(body, dict):
        raise ModelServerError("request body must be a JSON object", 400)
    return body


def response_event_bytes(event: dict[str, Any]) -> bytes:
    """One Responses streaming event as SSE."""
    return f"event: {event['type']}\ndata: {json.dumps(event)}\n\n".encode()


def chat_chunk_bytes(chunk: dict[str, Any]) -> bytes:
    """One Chat Completions chunk as SSE."""
    return f"data: {json.dumps(chunk)}\n\n".encode()


CHAT_STREAM_END = b"data: [DONE]\n\n"


def sse_response(
    body: Iterable[bytes] | AsyncIterable[bytes], media_type: str = "text/event-stream"
) -> StreamingResponse:
    """Events passed on as they arrive."""
    return StreamingResponse(body, media_type=media_type, headers=SSE_HEADERS)


def sse_whole(events: Iterable[bytes]) -> Response:
    """Events known in advance, sent as one body: the client reads the same stream, the server writes once."""
    return Response(b"".join(events), media_type="text/event-stream", headers=SSE_HEADERS)

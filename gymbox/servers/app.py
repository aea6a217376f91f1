"""The FastAPI skeleton every gymbox server shares: `GET /health` and JSON errors a model can read."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ValidationError
from starlette.exceptions import HTTPException

from gymbox import json_codec
from gymbox.servers.metrics import install_metrics

_MAX_ERROR_CHARS = 1200


class ToolError(Exception):
    """Raise from a tool (or any handler) to answer 4xx with `{"error": message}`."""

    def __init__(self, message: str, status_code: int = 400, detail: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.status_code = status_code
        self.detail = detail


class EscapingJSONResponse(JSONResponse):
    """Starlette's JSONResponse, except that a lone surrogate (JSON carries "\\ud800", and a model may
    write one) is sent as its escape, still valid JSON, instead of failing the answer with a 500."""

    def render(self, content: Any) -> bytes:
        return json_codec.dumps(content)


def body_json(body: BaseModel, **kwargs: Any) -> dict[str, Any]:
    """A request body's model as JSON data; a 422 when pydantic cannot serialize it (nested deeper than
    its 255 levels), which would otherwise surface as a 500."""
    try:
        return body.model_dump(mode="json", **kwargs)
    except ValueError as exc:
        raise ToolError(f"request body cannot be used: {exc}", status_code=422) from None


def describe_validation_errors(errors: list[Any]) -> str:
    """`city: Field required; days: Input should be a valid integer` — short enough for a model to act on."""
    parts = []
    for err in errors:
        loc = [str(p) for p in err.get("loc", ()) if p not in ("body",)]
        where = ".".join(loc) or "body"
        parts.append(f"{where}: {err.get('msg', 'invalid')}")
    text = "; ".join(parts)
    # A union mismatch lists every alternative; the head is enough to act on.
    return text if len(text) <= _MAX_ERROR_CHARS else text[:_MAX_ERROR_CHARS] + " …"


def create_app(title: str, **kwargs: Any) -> FastAPI:
    app = FastAPI(title=title, **{"default_response_class": EscapingJSONResponse, **kwargs})
    install_metrics(app, title)  # GET /metrics: requests, latency and errors per route (Prometheus)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok", "server": title}

    @app.exception_handler(RequestValidationError)
    async def on_invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        errors = exc.errors()
        if any(e.get("type") == "json_invalid" for e in errors):
            message = "request body is not valid JSON"
        else:
            detail = describe_validation_errors(list(errors))
            message = f"invalid arguments for {request.url.path.lstrip('/')}: {detail}"
        return EscapingJSONResponse({"error": message}, status_code=422)

    @app.exception_handler(ValidationError)
    async def on_invalid_body(request: Request, exc: ValidationError) -> JSONResponse:
        message = f"invalid body for {request.url.path.lstrip('/')}: {describe_validation_errors(list(exc.errors()))}"
        return EscapingJSONResponse({"error": message}, status_code=422)

    @app.exception_handler(ToolError)
    async def on_tool_error(request: Request, exc: ToolError) -> JSONResponse:
        return EscapingJSONResponse({"error": exc.message, "detail": exc.detail}, status_code=exc.status_code)

    @app.exception_handler(HTTPException)
    async def on_http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail if isinstance(exc.detail, str) else json.dumps(exc.detail)
        return EscapingJSONResponse({"error": detail}, status_code=exc.status_code)

    return app

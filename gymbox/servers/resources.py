"""The resources server base class: an environment's tools, per-episode state and verifier.

An environment subclasses `ResourcesServer`, marks tool methods with `@tool`, and implements `verify`:

    class GetWeatherArgs(BaseModel):
        city: str

    class WeatherServer(ResourcesServer):
        @tool
        async def get_weather(self, args: GetWeatherArgs, session: Session) -> dict:
            "Current weather for a city."
            return {"city": args.city, "weather": "cold"}

        async def verify(self, body: VerifyRequest, session: Session) -> float:
            return 1.0

Routes: `POST /seed_session`, `POST /<tool>` per tool, `POST /verify`, `POST /aggregate_metrics`,
`GET /health`. The episode travels in the `gymbox_session` cookie.
"""

from __future__ import annotations

import inspect
import json
import math
import statistics
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from typing import Any, TypeVar, get_type_hints

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from gymbox.config import ResolvedConfig
from gymbox.protocol import SESSION_COOKIE, AggregateMetricsRequest, RunRequest, VerifyRequest
from gymbox.servers.app import ToolError, create_app, describe_validation_errors
from gymbox.servers.metrics import track_resources
from gymbox.servers.sessions import Session, SessionStore

F = TypeVar("F", bound=Callable[..., Any])
RESERVED_ROUTES = frozenset({"seed_session", "verify", "aggregate_metrics", "health", "docs", "openapi.json"})


def tool(func: F) -> F:
    """Mark a method `(self, args: <pydantic model>, session: Session)` as a tool served at `POST /<name>`."""
    func._gymbox_tool = True  # type: ignore[attr-defined]
    return func


class ResourcesServerConfig(BaseModel):
    """Fields every resources server accepts; an environment extends this with its own `Config`."""

    model_config = ConfigDict(extra="allow")

    session_ttl_s: float = Field(default=3600.0, gt=0, description="idle episodes are forgotten after this")
    max_sessions: int = Field(default=100_000, ge=1)


class ResourcesServer:
    Config: type[ResourcesServerConfig] = ResourcesServerConfig

    def __init__(
        self, config: ResourcesServerConfig | None = None, *, name: str = "", stack: ResolvedConfig | None = None
    ) -> None:
        self.config = config if config is not None else self.Config()
        self.name = name or type(self).__name__
        self.stack = stack  # the whole resolved config, for environments that call peers (a judge model)
        self.sessions = SessionStore(ttl_s=self.config.session_ttl_s, max_sessions=self.config.max_sessions)

    # ------------------------------------------------------------------ hooks an environment overrides

    async def startup(self) -> None:
        """Runs once before the server takes requests: load models, open databases, warm caches."""

    async def shutdown(self) -> None:
        """Runs once when the server stops: release what `startup` acquired."""

    async def seed_session(self, body: RunRequest, session: Session) -> Mapping[str, Any] | None:
        """Start an episode's state from the task row. Default: nothing to seed."""
        return None

    async def verify(self, body: VerifyRequest, session: Session) -> float | Mapping[str, Any]:
        """Score the rollout: a reward, or a mapping with `reward` plus extra numeric metrics."""
        raise NotImplementedError(f"{type(self).__name__} must implement verify()")

    async def aggregate_metrics(self, verify_responses: list[dict[str, Any]]) -> dict[str, Any]:
        """Summary of many verify results. Default: count, and the mean of every numeric top-level field."""
        return mean_numeric_fields(verify_responses)

    # ------------------------------------------------------------------ introspection

    @classmethod
    def tools(cls) -> dict[str, Callable[..., Any]]:
        return {
            name: member for name, member in inspect.getmembers(cls, callable) if getattr(member, "_gymbox_tool", False)
        }

    @classmethod
    def tool_definitions(cls) -> list[dict[str, Any]]:
        """The tools as Responses API function tools, ready for `responses_create_params.tools`."""
        return [
            {
                "type": "function",
                "name": name,
                "description": inspect.getdoc(func) or "",
                "parameters": args_model(func).model_json_schema(),
                "strict": False,
            }
            for name, func in cls.tools().items()
        ]

    # ------------------------------------------------------------------ the app

    def build_app(self) -> FastAPI:
        @asynccontextmanager
        async def lifespan(app: FastAPI) -> AsyncIterator[None]:
            await self.startup()
            try:
                yield
            finally:
                await self.shutdown()

        app = create_app(self.name, lifespan=lifespan)
        track_resources(app, set(self.tools()), self.sessions.__len__)
        seed_model = _body_model(type(self).seed_session, RunRequest)
        verify_model = _body_model(type(self).verify, VerifyRequest)

        async def seed_session(request: Request) -> JSONResponse:
            body = seed_model.model_validate(await read_json(request))
            session = self.sessions.new()
            result = await self.seed_session(body, session)
            return self._answer(dict(result or {}), session)

        async def verify(request: Request) -> JSONResponse:
            body = verify_model.model_validate(await read_json(request))
            session = self._session(request)
            result = await self.verify(body, session)
            extras = dict(result) if isinstance(result, Mapping) else {"reward": result}
            if "reward" not in extras:
                raise TypeError(f"{type(self).__name__}.verify returned a mapping without 'reward'")
            extras["reward"] = float(extras["reward"])
            row = body.model_dump(mode="json")
            clashes = sorted(key for key in extras if key in row and key != "reward")
            if clashes:  # a metric must not silently replace the task row's own field
                raise TypeError(
                    f"{type(self).__name__}.verify returned {', '.join(clashes)}, already fields of "
                    "the verify request; give these metrics other names"
                )
            return self._answer({**row, **extras}, session)

        async def aggregate_metrics(body: AggregateMetricsRequest) -> dict[str, Any]:
            return await self.aggregate_metrics(body.verify_responses)

        _add_body_route(app, "/seed_session", seed_session, seed_model)
        _add_body_route(app, "/verify", verify, verify_model)
        app.post("/aggregate_metrics")(aggregate_metrics)
        for name, func in self.tools().items():
            if name in RESERVED_ROUTES:
                raise TypeError(f"{type(self).__name__}: a tool cannot be named {name!r} (a server route)")
            _add_body_route(
                app, f"/{name}", self._tool_endpoint(func), args_model(func), summary=inspect.getdoc(func) or name
            )
        return app

    def _session(self, request: Request) -> Session:
        # A call with no (or an expired) session gets a fresh episode rather than an error.
        return self.sessions.get(request.cookies.get(SESSION_COOKIE)) or self.sessions.new()

    @staticmethod
    def _answer(payload: Any, session: Session) -> JSONResponse:
        response = JSONResponse(payload)
        response.set_cookie(SESSION_COOKIE, session.id, httponly=True, samesite="lax")
        return response

    def _tool_endpoint(self, func: Callable[..., Any]) -> Callable[[Request], Awaitable[JSONResponse]]:
        model = args_model(func)
        bound = getattr(self, func.__name__)

        async def endpoint(request: Request) -> JSONResponse:
            try:
                args = model.model_validate(await read_json(request))
            except ValidationError as exc:
                raise ToolError(
                    f"invalid arguments for {func.__name__}: {describe_validation_errors(list(exc.errors()))}",
                    status_code=422,
                ) from None
            session = self._session(request)
            result = bound(args, session)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, BaseModel):
                result = result.model_dump(mode="json")
            return self._answer(result, session)

        return endpoint


async def read_json(request: Request) -> Any:
    """The JSON body; an empty body is `{}` (models often send nothing to a tool without arguments)."""
    raw = await request.body()
    if not raw.strip() or raw.strip() in (b'""', b"null"):
        return {}
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ToolError(f"request body is not valid JSON: {exc}", status_code=400) from None


def args_model(func: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic model of a tool's arguments (its first parameter's annotation)."""
    params = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    hints = get_type_hints(func)
    model = hints.get(params[0].name) if params else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"tool {func.__qualname__}: its first argument must be annotated with a pydantic model")
    return model


def _body_model(func: Callable[..., Any], default: type[BaseModel]) -> type[BaseModel]:
    hints = get_type_hints(func)
    model = hints.get("body", default)
    return model if isinstance(model, type) and issubclass(model, default) else default


def _add_body_route(
    app: FastAPI, path: str, handler: Callable[..., Any], model: type[BaseModel], summary: str | None = None
) -> None:
    # Handlers parse the body themselves (one error format, empty bodies allowed); the schema is for /docs.
    app.post(
        path,
        summary=summary,
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}}}},
    )(handler)


def mean_numeric_fields(rows: list[dict[str, Any]]) -> dict[str, Any]:
    values: dict[str, list[float]] = {}
    for row in rows:
        for key, value in row.items():
            if isinstance(value, bool | int | float) and not (isinstance(value, float) and math.isnan(value)):
                values.setdefault(key, []).append(float(value))
    out: dict[str, Any] = {"count": len(rows)}
    for key, vals in sorted(values.items()):
        out[f"mean/{key}"] = statistics.fmean(vals)
    return out

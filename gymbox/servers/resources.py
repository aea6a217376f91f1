"""The resources server base class: an environment's tools, per-episode state and verifier.

An environment subclasses `ResourcesServer[Config, Row, VerifyBody]` (its config, task-row and verify-request
models, declared once), marks tool methods with `@tool`, and implements `verify`:

    class GetWeatherArgs(BaseModel):
        city: str

    class WeatherServer(ResourcesServer[ResourcesServerConfig, RunRequest, VerifyRequest]):
        @tool
        async def get_weather(self, args: GetWeatherArgs, session: Session) -> dict[str, str]:
            "Current weather for a city."
            return {"city": args.city, "weather": "cold"}

        async def verify(self, body: VerifyRequest, session: Session) -> float:
            return 1.0

Routes: `POST /seed_session`, `POST /<tool>` per tool, `POST /verify`, `POST /aggregate_metrics`,
`GET /health`. The episode travels in the `gymbox_session` cookie, which every answer to a seed, tool or
verify call sets (errors included). A tool call or verify whose session is missing, unknown or expired
answers 409 `{"error": ..., "kind": "session_lost"}` instead of starting an empty episode, and `/verify`
ends the episode's session.
"""

from __future__ import annotations

import inspect
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, ClassVar, Generic, TypeVar, cast, get_args, get_origin, get_type_hints

from fastapi import FastAPI, Request
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from starlette.types import ASGIApp, Message, Receive, Scope, Send
from typing_extensions import TypeVar as DefaultTypeVar

from gymbox import json_codec
from gymbox.config import ResolvedConfig
from gymbox.errors import describe_validation_errors
from gymbox.protocol import SESSION_COOKIE, AggregateMetricsRequest, RunRequest, VerifyRequest
from gymbox.servers.app import (
    EscapingJSONResponse,
    ToolError,
    body_json,
    create_app,
    direct_post,
)
from gymbox.servers.metrics import track_resources
from gymbox.servers.sessions import Session, SessionLost, SessionStore

F = TypeVar("F", bound=Callable[..., Any])
RESERVED_ROUTES = frozenset({"seed_session", "verify", "aggregate_metrics", "health", "docs", "openapi.json"})
SESSION_LOST = "session_lost"  # the `kind` of a 409: the episode's state is gone, an infrastructure failure
_COOKIE_SLOT = "gymbox.session_cookie"  # scope key: the session id the answer must set as its cookie


def tool(func: F) -> F:
    """Mark a method `(self, args: <pydantic model>, session: Session)` as a tool served at `POST /<name>`."""
    func._gymbox_tool = True  # type: ignore[attr-defined]
    return func


class ResourcesServerConfig(BaseModel):
    """Fields every resources server accepts; an environment extends this with its own config model."""

    model_config = ConfigDict(extra="allow")

    session_ttl_s: float = Field(default=3600.0, gt=0, description="idle episodes are forgotten after this")
    max_sessions: int = Field(default=100_000, ge=1)
    build_args: dict[str, str | int | float] = Field(
        default_factory=dict,
        description="Docker build args of the environment's image (ARGs its Dockerfile declares); "
        "part of the image's tag, so two instances of one environment can run two builds",
    )


ConfigT = DefaultTypeVar("ConfigT", bound=ResourcesServerConfig, default=ResourcesServerConfig)
RowT = DefaultTypeVar("RowT", bound=RunRequest, default=RunRequest)
VerifyT = DefaultTypeVar("VerifyT", bound=VerifyRequest, default=VerifyRequest)
_TYPE_PARAMETERS = (("Config", ResourcesServerConfig), ("Row", RunRequest), ("VerifyBody", VerifyRequest))


class ResourcesServer(Generic[ConfigT, RowT, VerifyT]):
    """Subclass as `ResourcesServer[XConfig, XRow, XVerifyRequest]`; each defaults to gymbox's base model.

    The type arguments are read when the subclass is defined, into `Config`, `Row` and `VerifyBody`: the
    models that validate the instance's config fields, the `/seed_session` body and the `/verify` body.
    """

    Config: ClassVar[type[ResourcesServerConfig]] = ResourcesServerConfig
    Row: ClassVar[type[RunRequest]] = RunRequest
    VerifyBody: ClassVar[type[VerifyRequest]] = VerifyRequest

    def __init__(self, config: ConfigT | None = None, *, name: str = "", stack: ResolvedConfig | None = None) -> None:
        self.config: ConfigT = config if config is not None else cast(ConfigT, type(self).Config())
        self.name = name or type(self).__name__
        self.stack = stack  # the whole resolved config, for environments that call peers (a judge model)
        self.sessions = SessionStore(ttl_s=self.config.session_ttl_s, max_sessions=self.config.max_sessions)

    def __init_subclass__(cls, **kwargs: Any) -> None:
        super().__init_subclass__(**kwargs)
        _read_type_arguments(cls)
        _check_body_annotations(cls)

    # ------------------------------------------------------------------ hooks an environment overrides

    async def startup(self) -> None:
        """Runs once before the server takes requests: load models, open databases, warm caches."""

    async def shutdown(self) -> None:
        """Runs once when the server stops: release what `startup` acquired."""

    async def seed_session(self, body: RowT, session: Session) -> Mapping[str, Any] | None:
        """Start an episode's state from the task row. Default: nothing to seed."""
        return None

    async def verify(self, body: VerifyT, session: Session) -> float | Mapping[str, Any]:
        """Score the rollout: a reward, or a mapping with `reward` plus extra numeric metrics."""
        raise NotImplementedError(f"{type(self).__name__} must implement verify()")

    async def aggregate_metrics(self, verify_responses: list[dict[str, Any]]) -> dict[str, Any]:
        """Summary of many verify results, in NeMo Gym's shape (gymbox.servers.aggregate_metrics)."""
        from gymbox.servers.aggregate_metrics import aggregate_metrics

        return aggregate_metrics(verify_responses)

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
        app.add_middleware(SessionCookie)
        app.add_exception_handler(SessionLost, _session_lost)  # type: ignore[arg-type]
        row_model, verify_model = type(self).Row, type(self).VerifyBody

        async def seed_session(request: Request) -> EscapingJSONResponse:
            body = cast(RowT, row_model.model_validate(await read_json(request)))
            session = self.sessions.new()  # always a new episode, whatever cookie came along
            try:
                result = await self.seed_session(body, session)
            except BaseException:
                self.sessions.close(session.id, "its /seed_session failed")
                raise
            _set_cookie(request, session.id)
            return EscapingJSONResponse(dict(result or {}))

        async def verify(request: Request) -> EscapingJSONResponse:
            session = self._session(request, "verify")
            try:
                body = cast(VerifyT, verify_model.model_validate(await read_json(request)))
                result = await self.verify(body, session)
            finally:  # a verify answer, whatever it is, ends the episode: its state is not needed again
                self.sessions.close(session.id, "closed by /verify, which ends the episode")
            return EscapingJSONResponse(self._verify_response(body, result))

        async def aggregate_metrics(body: AggregateMetricsRequest) -> dict[str, Any]:
            return await self.aggregate_metrics(body.verify_responses)

        _add_body_route(app, "/seed_session", seed_session, row_model)
        _add_body_route(app, "/verify", verify, verify_model)
        app.post("/aggregate_metrics")(aggregate_metrics)
        for name, func in self.tools().items():
            if name in RESERVED_ROUTES:
                raise TypeError(f"{type(self).__name__}: a tool cannot be named {name!r} (a server route)")
            _add_body_route(
                app, f"/{name}", self._tool_endpoint(func), args_model(func), summary=inspect.getdoc(func) or name
            )
        return app

    def _verify_response(self, body: VerifyRequest, result: float | Mapping[str, Any]) -> dict[str, Any]:
        extras = dict(result) if isinstance(result, Mapping) else {"reward": result}
        if "reward" not in extras:
            raise TypeError(f"{type(self).__name__}.verify returned a mapping without 'reward'")
        extras["reward"] = float(extras["reward"])
        row = body_json(body)
        clashes = sorted(key for key in extras if key in row and key != "reward")
        if clashes:  # a metric must not silently replace the task row's own field
            raise TypeError(
                f"{type(self).__name__}.verify returned {', '.join(clashes)}, already fields of "
                "the verify request; give these metrics other names"
            )
        return {**row, **extras}

    def _session(self, request: Request, what: str) -> Session:
        """The request's live session; SessionLost (409) when it has none, never a fresh empty episode."""
        try:
            session = self.sessions.require(request.cookies.get(SESSION_COOKIE), f"/{what}")
        except SessionLost as exc:
            if exc.session_id:  # keep naming the lost episode: later calls say the same
                _set_cookie(request, exc.session_id)
            raise
        _set_cookie(request, session.id)
        return session

    def _tool_endpoint(self, func: Callable[..., Any]) -> Callable[[Request], Awaitable[EscapingJSONResponse]]:
        model = args_model(func)
        bound = getattr(self, func.__name__)

        async def endpoint(request: Request) -> EscapingJSONResponse:
            session = self._session(request, func.__name__)
            try:
                args = model.model_validate(await read_json(request))
            except ValidationError as exc:
                raise ToolError(
                    f"invalid arguments for {func.__name__}: {describe_validation_errors(list(exc.errors()))}",
                    status_code=422,
                ) from None
            result = bound(args, session)
            if inspect.isawaitable(result):
                result = await result
            if isinstance(result, BaseModel):
                result = result.model_dump(mode="json")
            return EscapingJSONResponse(result)

        return endpoint


def _read_type_arguments(cls: type[ResourcesServer[Any, Any, Any]]) -> None:
    """Set `Config`, `Row` and `VerifyBody` from the class's `ResourcesServer[...]` base, if it names one."""
    for base in cls.__dict__.get("__orig_bases__", ()):
        origin = get_origin(base)
        if not (isinstance(origin, type) and issubclass(origin, ResourcesServer)):
            continue
        for (attr, bound), arg in zip(_TYPE_PARAMETERS, get_args(base), strict=False):
            if isinstance(arg, TypeVar | DefaultTypeVar):
                continue  # a generic subclass: its own subclasses fill this in
            if not (isinstance(arg, type) and issubclass(arg, bound)):
                raise TypeError(
                    f"{cls.__qualname__}: {base} names {arg!r} as its {attr} type; it must be "
                    f"{bound.__name__} or a subclass of it"
                )
            declared = cls.__dict__.get(attr)
            if declared is not None and declared is not arg:
                raise TypeError(
                    f"{cls.__qualname__}: {attr} = {declared.__name__} differs from the type argument "
                    f"{arg.__name__}; declare it once, in ResourcesServer[...]"
                )
            setattr(cls, attr, arg)


def _check_body_annotations(cls: type[ResourcesServer[Any, Any, Any]]) -> None:
    # The bodies are validated with the type arguments, not the methods' annotations: refuse a method
    # that expects more than its class declares, instead of failing on a missing field mid-episode.
    for method, attr in (("seed_session", "Row"), ("verify", "VerifyBody")):
        func = cls.__dict__.get(method)
        if func is None:
            continue
        try:
            wanted = get_type_hints(func).get("body")
        except NameError:  # an annotation this module cannot resolve yet: nothing to compare
            continue
        declared = getattr(cls, attr)
        if isinstance(wanted, type) and issubclass(wanted, BaseModel) and not issubclass(declared, wanted):
            raise TypeError(
                f"{cls.__qualname__}.{method} takes body: {wanted.__name__}, but the class validates that "
                f"body as {declared.__name__}; name {wanted.__name__} in its base, e.g. "
                f"class {cls.__name__}(ResourcesServer[XConfig, XRow, XVerifyRequest])"
            )


@dataclass
class _CookieSlot:
    session_id: str | None = None


def _set_cookie(request: Request, session_id: str) -> None:
    slot = request.scope.get(_COOKIE_SLOT)
    if isinstance(slot, _CookieSlot):
        slot.session_id = session_id


class SessionCookie:
    """ASGI middleware: every answer to a request with a session sets that session's cookie, errors included.

    NeMo Gym's simple_agent replaces its cookie jar with each tool response's cookies, so an answer
    without the cookie (a 400 or 422 a model caused, say) would lose the episode for the next call.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        slot = _CookieSlot()
        scope[_COOKIE_SLOT] = slot

        async def send_with_cookie(message: Message) -> None:
            if message["type"] == "http.response.start" and slot.session_id:
                cookie = f"{SESSION_COOKIE}={slot.session_id}; HttpOnly; Path=/; SameSite=lax"
                message = {**message, "headers": [*message.get("headers", []), (b"set-cookie", cookie.encode())]}
            await send(message)

        await self.app(scope, receive, send_with_cookie)


async def _session_lost(request: Request, exc: SessionLost) -> EscapingJSONResponse:
    return EscapingJSONResponse({"error": exc.message, "kind": SESSION_LOST}, status_code=409)


async def read_json(request: Request) -> Any:
    """The JSON body; an empty body is `{}` (models often send nothing to a tool without arguments)."""
    raw = await request.body()
    if not raw.strip() or raw.strip() in (b'""', b"null"):
        return {}
    try:
        return json_codec.loads(raw)
    except (ValueError, RecursionError) as exc:  # bad JSON, bytes of no Unicode encoding, too deep
        raise ToolError(f"request body is not valid JSON: {exc}", status_code=400) from None


def args_model(func: Callable[..., Any]) -> type[BaseModel]:
    """The pydantic model of a tool's arguments (its first parameter's annotation)."""
    params = [p for p in inspect.signature(func).parameters.values() if p.name != "self"]
    hints = get_type_hints(func)
    model = hints.get(params[0].name) if params else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise TypeError(f"tool {func.__qualname__}: its first argument must be annotated with a pydantic model")
    return model


def _add_body_route(
    app: FastAPI, path: str, handler: Callable[..., Any], model: type[BaseModel], summary: str | None = None
) -> None:
    # Handlers parse the body themselves (one error format, empty bodies allowed); the schema is for /docs.
    direct_post(
        app,
        path,
        summary=summary,
        openapi_extra={"requestBody": {"content": {"application/json": {"schema": model.model_json_schema()}}}},
    )(handler)

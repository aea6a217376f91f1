"""The FastAPI skeleton every gymbox server shares: `GET /health` and JSON errors a model can read."""

from __future__ import annotations

import email.message
import inspect
import json
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from typing import Any, TypeVar, get_type_hints

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute
from pydantic import BaseModel, ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.routing import BaseRoute, Match, Router, request_response
from starlette.types import ASGIApp, Receive, Scope, Send

from gymbox import json_codec
from gymbox.errors import describe_validation_errors
from gymbox.servers.metrics import install_metrics

ModelT = TypeVar("ModelT", bound=BaseModel)
EndpointT = TypeVar("EndpointT", bound=Callable[..., Awaitable[Response]])


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


def create_app(title: str, **kwargs: Any) -> FastAPI:
    app = ServerAPI(title=title, **{"default_response_class": EscapingJSONResponse, **kwargs})
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


class DirectRoute(APIRoute):
    """A route whose endpoint handles the request itself, past FastAPI's per-request machinery.

    The endpoint is `async def f(request: Request) -> <Response>`, or takes one pydantic-model parameter
    (the JSON body, with or without the request). That body is parsed with json_codec and validated here,
    failing as FastAPI's body parameters fail (`RequestValidationError`, a 400 HTTPException for a body
    that cannot be decoded), so the app's exception handlers answer exactly as before. The signature
    still describes the route to OpenAPI, as any route's does.

    Skipped, per request: dependency solving, FastAPI's exit stacks and response handling, about 50 µs of
    CPU (benchmarks/bench_server_overhead.py), on the routes every rollout calls.
    """

    def __init__(self, path: str, endpoint: Callable[..., Any], **kwargs: Any) -> None:
        self._request_param, self._body_param, self._body_model = _direct_parameters(endpoint)
        if kwargs.get("dependencies"):
            raise TypeError(f"{path}: a DirectRoute does not run dependencies")
        super().__init__(path, endpoint, **kwargs)
        self.handler = self.get_route_handler()
        self.direct = kwargs.get("max_body_size") is None  # else keep FastAPI's app, which enforces the limit
        if self.direct:
            # Starlette's wrapper: the app's exception handlers, without FastAPI's exit stacks.
            self.app = request_response(self.handler)

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        endpoint = self.endpoint
        model, body_param, request_param = self._body_model, self._body_param, self._request_param
        if model is None:
            return endpoint  # checked by _direct_parameters

        async def handler(request: Request) -> Response:
            arguments: dict[str, Any] = {body_param: await validated_body(request, model)}
            if request_param:
                arguments[request_param] = request
            return await endpoint(**arguments)  # type: ignore[no-any-return]

        return handler


class ServerAPI(FastAPI):
    """FastAPI, with a short lane for POSTs to a DirectRoute: what every rollout calls.

    Such a request passes Starlette's outermost error middleware and the app's own middlewares (metrics,
    session cookies) as any other, then goes straight to its route's handler. It skips FastAPI's telemetry,
    body-limit and exit-stack middlewares, the router's walk through every route, and Starlette's
    per-route wrappers: about a quarter of a server's CPU per request (benchmarks/bench_server_overhead.py). The
    app's exception handlers answer what the handler raises, as they do on the long path. Everything else,
    and a whole app with a body limit or a root path, takes the long path.
    """

    _lane: ASGIApp | None = None
    _lane_routes: dict[str, DirectRoute] = {}

    def build_middleware_stack(self) -> ASGIApp:
        stack = super().build_middleware_stack()
        routes = _lane_routes(self.router.routes)
        if routes and self.max_body_size is None and not self.root_path:
            handlers = {k: v for k, v in self.exception_handlers.items() if k not in (500, Exception)}
            lane: ASGIApp = _DirectLane(self.router, routes, handlers)
            for cls, args, kwargs in reversed(self.user_middleware):
                lane = cls(lane, *args, **kwargs)
            error_handler = self.exception_handlers.get(500, self.exception_handlers.get(Exception))
            self._lane = ServerErrorMiddleware(lane, handler=error_handler, debug=self.debug)
            self._lane_routes = routes
        return stack

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        lane = self._lane
        if (
            lane is not None
            and scope["type"] == "http"
            and scope["method"] == "POST"
            and scope["path"] in self._lane_routes
            and not scope.get("root_path")
        ):
            scope["app"] = self
            await lane(scope, receive, send)
        else:
            await super().__call__(scope, receive, send)


def _lane_routes(routes: Sequence[BaseRoute]) -> dict[str, DirectRoute]:
    """The DirectRoutes a POST reaches by its exact path: none that an earlier route would take first."""
    found: dict[str, DirectRoute] = {}
    for index, route in enumerate(routes):
        if not (isinstance(route, DirectRoute) and route.direct and route.path_format == route.path):
            continue  # a path parameter: the router's matching it needs
        probe: Scope = {"type": "http", "method": "POST", "path": route.path, "root_path": ""}
        if route.path not in found and all(r.matches(probe)[0] != Match.FULL for r in routes[:index]):
            found[route.path] = route
    return found


class _DirectLane:
    """The end of the short lane: the route's handler, and the app's exception handlers for what it raises."""

    def __init__(self, router: Router, routes: dict[str, DirectRoute], handlers: dict[Any, Any]) -> None:
        self.router, self.routes = router, routes
        self.status_handlers = {k: v for k, v in handlers.items() if isinstance(k, int)}
        self.exception_handlers = {k: v for k, v in handlers.items() if not isinstance(k, int)}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        route = self.routes[scope["path"]]
        scope.update(router=self.router, route=route, endpoint=route.endpoint, path_params={})
        request = Request(scope, receive, send)
        try:
            response = await route.handler(request)
        except Exception as exc:
            handler = self._handler_for(exc)
            if handler is None:
                raise  # Starlette's error middleware answers 500 and the server logs it
            if inspect.iscoroutinefunction(handler):
                response = await handler(request, exc)
            else:
                response = await run_in_threadpool(handler, request, exc)
            exc.__traceback__ = None  # as Starlette: a reused exception would pile up tracebacks
        await response(scope, receive, send)

    def _handler_for(self, exc: Exception) -> Callable[..., Any] | None:
        if isinstance(exc, HTTPException) and exc.status_code in self.status_handlers:
            return self.status_handlers[exc.status_code]  # type: ignore[no-any-return]
        for cls in type(exc).__mro__:
            if cls in self.exception_handlers:
                return self.exception_handlers[cls]  # type: ignore[no-any-return]
        return None


def direct_post(app: FastAPI, path: str, **kwargs: Any) -> Callable[[EndpointT], EndpointT]:
    """`@app.post(path, **kwargs)` registering a DirectRoute."""

    def register(endpoint: EndpointT) -> EndpointT:
        app.router.add_api_route(path, endpoint, methods=["POST"], route_class_override=DirectRoute, **kwargs)
        return endpoint

    return register


def _direct_parameters(endpoint: Callable[..., Any]) -> tuple[str, str, type[BaseModel] | None]:
    """A DirectRoute endpoint's request parameter, body parameter and body model ("" and None: absent)."""
    name = getattr(endpoint, "__qualname__", repr(endpoint))
    if not inspect.iscoroutinefunction(endpoint):
        raise TypeError(f"{name}: a DirectRoute endpoint must be `async def`")
    hints = get_type_hints(endpoint)
    returns = hints.get("return")
    if not (isinstance(returns, type) and issubclass(returns, Response)):
        raise TypeError(f"{name}: a DirectRoute endpoint returns a Response (nothing validates or encodes it)")
    request_param, body_param, model = "", "", None
    for param in inspect.signature(endpoint).parameters.values():
        annotation = hints.get(param.name)
        if annotation is Request and not request_param:
            request_param = param.name
        elif isinstance(annotation, type) and issubclass(annotation, BaseModel) and model is None:
            body_param, model = param.name, annotation
        else:
            raise TypeError(f"{name}: a DirectRoute endpoint takes a Request and at most one body model")
    if model is None and not request_param:
        raise TypeError(f"{name}: a DirectRoute endpoint takes a Request or a body model")
    return request_param, body_param, model


async def validated_body(request: Request, model: type[ModelT]) -> ModelT:
    """The JSON body as `model`; invalid bodies raise what a FastAPI body parameter would raise."""
    raw = await request.body()
    if not raw:
        missing = {"type": "missing", "loc": ("body",), "msg": "Field required", "input": None}
        raise RequestValidationError([missing])
    data: Any = raw  # a body not declared JSON is validated as bytes, and fails, as FastAPI's strict default
    if _is_json(request.headers.get("content-type")):
        try:
            data = json_codec.loads(raw)
        except json.JSONDecodeError as exc:
            error = {
                "type": "json_invalid",
                "loc": ("body", exc.pos),
                "msg": "JSON decode error",
                "input": {},
                "ctx": {"error": exc.msg},
            }
            raise RequestValidationError([error], body=exc.doc) from None
        except Exception:  # nested too deep, bytes of no Unicode encoding
            raise HTTPException(status_code=400, detail="There was an error parsing the body") from None
    try:
        return model.model_validate(data, from_attributes=True)
    except ValidationError as exc:
        errors = [{**err, "loc": ("body", *err["loc"])} for err in exc.errors(include_url=False)]
        raise RequestValidationError(errors, body=data) from None


def _is_json(content_type: str | None) -> bool:
    if not content_type:
        return False
    if content_type == "application/json" or content_type.startswith("application/json;"):
        return True
    message = email.message.Message()
    message["content-type"] = content_type
    subtype = message.get_content_subtype()
    return message.get_content_maintype() == "application" and (subtype == "json" or subtype.endswith("+json"))

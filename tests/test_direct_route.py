"""DirectRoute answers every body, valid or not, as FastAPI's own body parameter did, and documents the same."""

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI, Request
from fastapi.testclient import TestClient
from pydantic import BaseModel, Field

from gymbox.model_servers.openai_app import ModelServerError, create_model_app
from gymbox.servers.app import EscapingJSONResponse, ToolError, create_app, direct_post


class Inner(BaseModel):
    n: int = Field(ge=0)


class Body(BaseModel):
    name: str
    inner: Inner
    tags: list[str] = []


JSON = {"content-type": "application/json"}
BODIES: list[tuple[bytes, dict[str, str]]] = [
    (b'{"name": "a", "inner": {"n": 1}}', JSON),
    (b'{"name": "a", "inner": {"n": 1}, "tags": ["\\ud800"]}', JSON),  # a lone surrogate: orjson refuses it
    (b'{"name": "a", "inner": {"n": 123456789012345678901234567890}}', JSON),  # beyond 64 bits
    (b'{"name": "a", "inner": {"n": NaN}}', JSON),
    (b"{}", JSON),
    (b'{"name": 5, "inner": {"n": -1}, "tags": "x"}', JSON),
    (b"", JSON),
    (b"   ", JSON),
    (b"null", JSON),
    (b"[1, 2]", JSON),
    (b"{nope", JSON),
    (b'{"name": "a",', JSON),
    (b"[" * 5000 + b"]" * 5000, JSON),
    (b"\xff\xfe{", JSON),
    (b'\xef\xbb\xbf{"name": "a", "inner": {"n": 1}}', JSON),  # a UTF-8 byte order mark
    (b'{"name": "a", "inner": {"n": 1}}', {}),  # no content type: not read as JSON
    (b'{"name": "a", "inner": {"n": 1}}', {"content-type": "text/plain"}),
    (b'{"name": "a", "inner": {"n": 1}}', {"content-type": "Application/JSON; charset=utf-8"}),
    (b'{"name": "a", "inner": {"n": 1}}', {"content-type": "application/vnd.api+json"}),
    (b'{"name": "raise", "inner": {"n": 1}}', JSON),
]


async def echo(body: Body, request: Request) -> EscapingJSONResponse:
    """Echo the body."""
    if body.name == "raise":
        raise ToolError("refused", status_code=418)
    return EscapingJSONResponse(body.model_dump())


def app_pair(factory: Callable[[], FastAPI]) -> tuple[FastAPI, FastAPI]:
    """The same endpoint, through FastAPI's body parameter and as a DirectRoute."""
    plain, direct = factory(), factory()
    plain.post("/echo", summary="Echo")(echo)
    direct_post(direct, "/echo", summary="Echo")(echo)
    return plain, direct


FACTORIES = {"gymbox app": lambda: create_app("t"), "model app": lambda: create_model_app("t", "m")}


@pytest.mark.parametrize("factory", FACTORIES.values(), ids=FACTORIES.keys())
def test_every_body_is_answered_as_fastapi_answered_it(factory: Callable[[], FastAPI]) -> None:
    plain, direct = app_pair(factory)
    with TestClient(plain) as a, TestClient(direct) as b:
        for raw, headers in BODIES:
            expected = a.post("/echo", content=raw, headers=headers)
            answer = b.post("/echo", content=raw, headers=headers)
            assert (answer.status_code, answer.json()) == (expected.status_code, expected.json()), raw[:60]


@pytest.mark.parametrize("factory", FACTORIES.values(), ids=FACTORIES.keys())
def test_the_openapi_schema_is_unchanged(factory: Callable[[], FastAPI]) -> None:
    plain, direct = app_pair(factory)
    assert direct.openapi() == plain.openapi()


def test_exception_handlers_catch_what_a_direct_endpoint_raises() -> None:
    app = create_model_app("t", "m")

    @direct_post(app, "/v1/responses")
    async def responses(request: Request) -> EscapingJSONResponse:
        raise ModelServerError("too long", 400, code="context_length_exceeded")

    with TestClient(app) as c:
        answer = c.post("/v1/responses", json={})
    assert answer.status_code == 400
    assert answer.json()["detail"] == {"kind": "context_length_exceeded"}
    assert answer.json()["error"]["message"] == "too long"


def test_an_endpoint_that_needs_fastapi_is_refused() -> None:
    app = create_app("t")

    async def query(request: Request, limit: int) -> EscapingJSONResponse:
        return EscapingJSONResponse({})

    async def returns_data(request: Request) -> dict[str, Any]:
        return {}

    with pytest.raises(TypeError, match="at most one body model"):
        direct_post(app, "/query")(query)
    with pytest.raises(TypeError, match="returns a Response"):
        direct_post(app, "/data")(returns_data)  # type: ignore[type-var]


def lane_app() -> FastAPI:
    """A gymbox app whose direct route says whether its request came the short lane (no router, no exit stack)."""
    app = create_app("t")

    @direct_post(app, "/where")
    async def where(request: Request) -> EscapingJSONResponse:
        if request.headers.get("x-raise") == "tool":
            raise ToolError("refused", status_code=418)
        if request.headers.get("x-raise") == "bug":
            raise RuntimeError("a bug")
        lane = "fastapi_middleware_astack" not in request.scope
        return EscapingJSONResponse({"lane": lane, "route": request.scope["route"].path})

    return app


def test_a_direct_route_takes_the_short_lane_and_other_requests_the_long_one() -> None:
    app = lane_app()

    @app.get("/where")
    async def where_get(request: Request) -> dict[str, bool]:
        return {"lane": "fastapi_middleware_astack" not in request.scope}

    with TestClient(app) as c:
        assert c.post("/where").json() == {"lane": True, "route": "/where"}
        assert c.get("/where").json() == {"lane": False}
        assert c.post("/where/", follow_redirects=False).status_code == 307  # the router redirects, as before


def test_the_short_lane_keeps_metrics_and_error_answers() -> None:
    with TestClient(lane_app(), raise_server_exceptions=False) as c:
        c.post("/where")
        refused = c.post("/where", headers={"x-raise": "tool"})
        bug = c.post("/where", headers={"x-raise": "bug"})
        metrics = c.get("/metrics").text
    assert (refused.status_code, refused.json()["error"]) == (418, "refused")
    assert (bug.status_code, bug.text) == (500, "Internal Server Error")
    assert 'gymbox_http_requests_total{method="POST",route="/where",status="200"} 1.0' in metrics
    assert 'gymbox_errors_total{kind="exception",route="/where"} 1.0' in metrics
    assert 'gymbox_http_requests_total{method="POST",route="/where",status="418"} 1.0' in metrics


def test_an_earlier_route_that_takes_the_path_still_wins() -> None:
    app = create_app("t")

    @app.post("/{anything}")
    async def catch_all(anything: str) -> dict[str, str]:
        return {"route": "catch-all"}

    @direct_post(app, "/where")
    async def where(request: Request) -> EscapingJSONResponse:
        return EscapingJSONResponse({"route": "direct"})

    with TestClient(app) as c:
        assert c.post("/where").json() == {"route": "catch-all"}


def test_a_body_limit_keeps_requests_on_the_long_path() -> None:
    app = create_app("t", max_body_size=16)

    @direct_post(app, "/echo")
    async def echo_body(body: Body) -> EscapingJSONResponse:
        return EscapingJSONResponse(body.model_dump())

    with TestClient(app) as c:
        assert c.post("/echo", json={"name": "a" * 64, "inner": {"n": 1}}).status_code == 413

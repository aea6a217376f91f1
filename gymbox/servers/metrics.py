"""Prometheus metrics of a gymbox server: `GET /metrics` on every agent, model, environment and sandbox.

One ASGI middleware times every request and counts it by route template (`/verify`, `/{tool}` stays one
series per tool, an unknown path is `unmatched`, so a scanner cannot blow up the label space). For a
resources server, tool routes are also counted per tool. Error answers are counted by kind, read from
the answer's own JSON (`kind`, `detail.kind`, `detail.failure`: `session_lost`, `infra_error`'s
failure, `invalid_row`) and otherwise named from the status code. Each app has its own registry, so
several servers in one process (tests, `gymbox.testing.running_stack`) never share counters.
"""

from __future__ import annotations

import functools
import json
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.responses import Response
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Gauge, Histogram, Info, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

METRICS_PATH = "/metrics"
EPISODE_ROUTE = "/run"  # an agent's episode: seed, model and tool steps, verify
UNMATCHED = "unmatched"
# Seconds: tool calls and verifies take milliseconds; episodes and model calls up to minutes.
BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600)
_STATUS_KINDS = {
    400: "bad_request",
    404: "not_found",
    408: "timeout",
    409: "conflict",
    413: "too_large",
    422: "invalid_arguments",
    429: "overloaded",
    502: "upstream_error",
    503: "unavailable",
    504: "upstream_timeout",
}
_ERROR_BODY_BYTES = 16_384  # enough to read an error's kind; longer bodies are not parsed


class ServerMetrics:
    """The counters of one server, in a registry of its own."""

    def __init__(self, server: str) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.tools: frozenset[str] = frozenset()
        Info("gymbox_server", "The gymbox server answering", registry=self.registry).info({"server": server})
        self.requests = Counter(
            "gymbox_http_requests",
            "HTTP requests answered, by route template, method and status code",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "gymbox_http_request_duration_seconds",
            "Time to answer an HTTP request, by route template",
            ["route"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.in_flight = Gauge(
            "gymbox_http_requests_in_flight", "Requests being answered, by route", ["route"], registry=self.registry
        )
        self.episodes = Gauge(
            "gymbox_episodes_in_flight", "Episodes (agent `POST /run`) in progress", registry=self.registry
        )
        self.tool_calls = Counter(
            "gymbox_tool_calls",
            "Tool calls an environment answered, by tool and outcome (ok or the error kind)",
            ["tool", "outcome"],
            registry=self.registry,
        )
        self.tool_latency = Histogram(
            "gymbox_tool_call_duration_seconds",
            "Time an environment took to answer a tool call, by tool",
            ["tool"],
            buckets=BUCKETS,
            registry=self.registry,
        )
        self.errors = Counter(
            "gymbox_errors",
            "Error answers (status >= 400) and unhandled exceptions, by route and kind",
            ["route", "kind"],
            registry=self.registry,
        )
        self.sessions = Gauge(
            "gymbox_sessions_held", "Episode sessions an environment holds in memory", registry=self.registry
        )
        # Each request looks its series up by labels: cached, as `labels()` builds a key and takes a lock
        # every time (a few % of a server's CPU). Label values are bounded as the series themselves are.
        self.requests_of = functools.cache(self.requests.labels)
        self.latency_of = functools.cache(self.latency.labels)
        self.in_flight_of = functools.cache(self.in_flight.labels)
        self.tool_calls_of = functools.cache(self.tool_calls.labels)
        self.tool_latency_of = functools.cache(self.tool_latency.labels)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    """Times and counts each HTTP request; reads the kind of an error answer from its body."""

    def __init__(self, app: ASGIApp, metrics: ServerMetrics, routes: Callable[[], set[str]]) -> None:
        self.app = app
        self.metrics = metrics
        self._routes = routes
        self._known: set[str] | None = None  # the app's route paths, read at the first request

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] == METRICS_PATH:
            await self.app(scope, receive, send)
            return
        answer: dict[str, Any] = {"status": 500, "body": b""}

        async def send_and_watch(message: Message) -> None:
            if message["type"] == "http.response.start":
                answer["status"] = message["status"]
            elif message["type"] == "http.response.body" and answer["status"] >= 400:
                if len(answer["body"]) < _ERROR_BODY_BYTES:
                    answer["body"] += message.get("body", b"")
            await send(message)

        if self._known is None:
            self._known = self._routes()
        path = scope["path"]
        episode = path == EPISODE_ROUTE
        # The router has not matched yet; gymbox routes have no path parameters, so a known path is its
        # own template, and any other path is one `unmatched` series, whatever a scanner sends.
        in_flight = self.metrics.in_flight_of(path if path in self._known else UNMATCHED)
        in_flight.inc()
        if episode:
            self.metrics.episodes.inc()
        started = time.perf_counter()
        raised = False
        try:
            await self.app(scope, receive, send_and_watch)
        except Exception:
            raised = True
            raise
        finally:
            elapsed = time.perf_counter() - started
            in_flight.dec()
            if episode:
                self.metrics.episodes.dec()
            self._record(scope, answer, elapsed, raised)

    def _record(self, scope: Scope, answer: dict[str, Any], elapsed: float, raised: bool) -> None:
        route_obj = scope.get("route")
        route = str(getattr(route_obj, "path", UNMATCHED))
        status = int(answer["status"])
        metrics = self.metrics
        metrics.requests_of(route, scope["method"], str(status)).inc()
        metrics.latency_of(route).observe(elapsed)
        kind = "exception" if raised else error_kind(status, answer["body"]) if status >= 400 else None
        if kind is not None:
            metrics.errors.labels(route, kind).inc()
        tool = route.lstrip("/")
        if tool in metrics.tools:
            metrics.tool_calls_of(tool, kind or "ok").inc()
            metrics.tool_latency_of(tool).observe(elapsed)


def error_kind(status: int, body: bytes) -> str:
    """What went wrong, as the answer says it (its `kind`), else as its status code says."""
    try:
        payload = json.loads(body) if body else None
    except (ValueError, UnicodeDecodeError):
        payload = None
    if isinstance(payload, dict):
        detail = payload.get("detail")
        if isinstance(detail, dict):
            for key in ("failure", "kind"):  # an agent's infra_error names its failure (unreachable, ...)
                if isinstance(detail.get(key), str):
                    return str(detail[key])
        if isinstance(payload.get("kind"), str):
            return str(payload["kind"])
    if status in _STATUS_KINDS:
        return _STATUS_KINDS[status]
    return "server_error" if status >= 500 else "client_error"


def install_metrics(app: FastAPI, server: str) -> ServerMetrics:
    """Count every request of `app` and serve the counts at `GET /metrics` (Prometheus text format)."""
    metrics = ServerMetrics(server)
    app.state.gymbox_metrics = metrics
    app.add_middleware(
        MetricsMiddleware, metrics=metrics, routes=lambda: {str(getattr(r, "path", "")) for r in app.routes}
    )

    @app.get(METRICS_PATH, include_in_schema=False)
    async def prometheus_metrics() -> Response:
        return Response(metrics.render(), media_type=CONTENT_TYPE_LATEST)

    return metrics


def track_resources(app: FastAPI, tools: frozenset[str] | set[str], sessions_held: Callable[[], int]) -> None:
    """A resources server's extras: its tool routes counted per tool, and the sessions it holds."""
    metrics: ServerMetrics = app.state.gymbox_metrics
    metrics.tools = frozenset(tools)
    metrics.sessions.set_function(lambda: float(sessions_held()))

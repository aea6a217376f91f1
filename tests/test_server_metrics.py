"""`GET /metrics` on gymbox servers: requests, latency, tools, sessions and errors, read as Prometheus does."""

from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families

from gymbox import ResourcesServer
from gymbox.registry import load_environment
from gymbox.servers.app import create_app
from gymbox.servers.metrics import error_kind

ROW = {"responses_create_params": {"input": "x"}, "start": "first", "target": "second"}


def scrape(c: TestClient) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """{(sample name, sorted labels): value} from the text a Prometheus server would scrape."""
    answer = c.get("/metrics")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(answer.text)
        for s in family.samples
    }


@pytest.fixture
def toy(toy_environments: Path) -> type[ResourcesServer[Any, Any, Any]]:
    return load_environment("toy", toy_environments / "toy")


def test_an_environment_counts_routes_tools_errors_and_sessions(toy) -> None:  # type: ignore[no-untyped-def]
    with TestClient(toy(name="toy").build_app(), base_url="http://env", raise_server_exceptions=False) as c:
        c.post("/seed_session", json=ROW)
        for text in ("a", "b", "forbidden"):
            c.post("/write", json={"text": text})
        c.post("/write", json={"wrong": 1})
        c.post("/crash", json={})
        c.get("/no/such/path")
        held = scrape(c)
        assert held[("gymbox_sessions_held", ())] == 1
        c.post("/verify", json={**ROW, "response": {"output": []}})
        got = scrape(c)

    assert got[("gymbox_server_info", (("server", "toy"),))] == 1
    assert got[("gymbox_http_requests_total", (("method", "POST"), ("route", "/write"), ("status", "200")))] == 2
    assert got[("gymbox_http_requests_total", (("method", "POST"), ("route", "/verify"), ("status", "200")))] == 1
    assert got[("gymbox_http_request_duration_seconds_count", (("route", "/write"),))] == 4
    assert got[("gymbox_tool_calls_total", (("outcome", "ok"), ("tool", "write")))] == 2
    assert got[("gymbox_tool_calls_total", (("outcome", "bad_request"), ("tool", "write")))] == 1
    assert got[("gymbox_tool_calls_total", (("outcome", "invalid_arguments"), ("tool", "write")))] == 1
    assert got[("gymbox_tool_call_duration_seconds_count", (("tool", "write"),))] == 4
    assert got[("gymbox_errors_total", (("kind", "exception"), ("route", "/crash")))] == 1  # a bug, unhandled
    assert got[("gymbox_http_requests_total", (("method", "POST"), ("route", "/crash"), ("status", "500")))] == 1
    assert got[("gymbox_errors_total", (("kind", "not_found"), ("route", "unmatched")))] == 1
    # Not a tool: counted as a route, never as a tool call.
    assert not any(name == "gymbox_tool_calls_total" and ("tool", "verify") in labels for name, labels in got)
    assert got[("gymbox_http_requests_in_flight", (("route", "/write"),))] == 0


def test_every_server_answers_metrics_without_counting_its_scrapes() -> None:
    app = create_app("plain")
    with TestClient(app) as c:
        c.get("/health")
        scrape(c)
        got = scrape(c)
    assert got[("gymbox_http_requests_total", (("method", "GET"), ("route", "/health"), ("status", "200")))] == 1
    assert not any(("route", "/metrics") in labels for _, labels in got)
    assert got[("gymbox_episodes_in_flight", ())] == 0


def test_two_apps_in_one_process_keep_their_own_counts() -> None:
    first, second = create_app("first"), create_app("second")
    with TestClient(first) as a, TestClient(second) as b:
        a.get("/health")
        a.get("/health")
        b.get("/health")
        key = ("gymbox_http_requests_total", (("method", "GET"), ("route", "/health"), ("status", "200")))
        assert (scrape(a)[key], scrape(b)[key]) == (2, 1)


@pytest.mark.parametrize(
    ("status", "body", "kind"),
    [
        (502, b'{"error": "x", "detail": {"kind": "infra_error", "failure": "unreachable"}}', "unreachable"),
        (400, b'{"error": "x", "detail": {"kind": "invalid_row"}}', "invalid_row"),
        (409, b'{"error": "x", "kind": "session_lost"}', "session_lost"),
        (422, b'{"error": "invalid arguments for write: text: Field required"}', "invalid_arguments"),
        (500, b"Internal Server Error", "server_error"),
        (418, b"", "client_error"),
    ],
)
def test_an_error_is_named_by_its_own_kind_first(status: int, body: bytes, kind: str) -> None:
    assert error_kind(status, body) == kind

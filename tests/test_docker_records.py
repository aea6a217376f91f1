"""Parsing docker's JSON (recorded from engine 20.10 in tests/data/docker/), without Docker."""

from __future__ import annotations

import json
import threading
from functools import partial
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from gymbox.collector import discovery
from gymbox.docker import wait
from gymbox.docker.records import parse_inspect, parse_lines
from gymbox.docker.service import CONTAINER_PORT
from gymbox.docker.stack import agent_addresses, agent_urls
from gymbox.docker.status_table import service_rows, stack_table
from gymbox.testing import bound_socket

DATA = Path(__file__).parent / "data" / "docker"
AGENT = "example_single_tool_call_simple_agent"


def _stack():
    return parse_inspect((DATA / "inspect_weather_stack.json").read_text())


def test_inspect_of_a_healthy_stack() -> None:
    containers = _stack()
    assert len(containers) == 4
    assert {c.stack for c in containers} == {"weather"}
    assert sorted(c.instance for c in containers) == sorted([AGENT, AGENT, "example_single_tool_call", "policy_model"])
    for c in containers:
        assert (c.health, c.status, c.failed) == ("healthy", "healthy", False)
        assert c.state.running
        assert c.ip_addresses
        assert c.ip_addresses[0].count(".") == 3
    agents = [c for c in containers if c.role == "responses_api_agents"]
    assert sorted(c.number for c in agents) == [1, 2]
    assert all(c.service == AGENT for c in agents)


def test_agent_urls_from_published_ports() -> None:
    containers = sorted(_stack(), key=lambda c: (c.service, c.number))
    urls = agent_urls(containers)
    assert list(urls) == [AGENT]  # only agents publish a port
    assert len(urls[AGENT]) == 2
    assert all(u.startswith("http://127.0.0.1:") for u in urls[AGENT])


def test_failed_containers() -> None:
    exited, unhealthy = parse_inspect((DATA / "inspect_failed.json").read_text())
    assert (exited.status, exited.failed, exited.health) == ("exited(3)", True, "none")
    assert (unhealthy.status, unhealthy.failed) == ("unhealthy", True)
    assert unhealthy.state.health is not None
    assert unhealthy.state.health.failing_streak >= 1
    assert exited.short_name == "rec-exited"


def test_listed_objects_and_their_labels() -> None:
    containers = parse_lines((DATA / "ps_lines.jsonl").read_text())
    assert containers
    assert all(c.id for c in containers)
    assert {c.labels["gymbox.stack"] for c in containers} >= {"weather", "rec"}
    (network,) = parse_lines((DATA / "network_ls_lines.jsonl").read_text())
    assert (network.name, network.labels["gymbox.stack"]) == ("gymbox-weather_default", "weather")
    (volume,) = parse_lines((DATA / "volume_ls_lines.jsonl").read_text())
    assert volume.ref == "rec_policy_model-hf-cache"  # volumes have no ID: removed by name
    assert volume.labels == {"gymbox.instance": "policy_model", "gymbox.stack": "rec", "gymbox.cache": "model"}


def test_missing_optional_fields_parse() -> None:
    (c,) = parse_inspect(
        '[{"Id": "x", "Name": "/n", "State": {"Status": "created"}, "Config": {"Labels": null},'
        ' "NetworkSettings": {"Ports": null, "Networks": null}}]'
    )
    assert (c.labels, c.host_ports(8000), c.status, c.failed) == ({}, [], "created", False)


def test_stack_table_lists_each_service_once_with_agent_urls() -> None:
    from rich.console import Console

    console = Console(width=200, record=True)
    console.print(stack_table("weather", sorted(_stack(), key=lambda c: (c.service, c.number))))
    text = console.export_text()
    assert text.count(AGENT) == 1
    assert text.count("http://127.0.0.1:") == 2


def test_agent_addresses_are_each_replicas_own_address_and_port() -> None:
    containers = sorted(_stack(), key=lambda c: (c.service, c.number))
    addresses = agent_addresses(containers)
    agents = [c for c in containers if c.role == "responses_api_agents"]
    assert addresses == {AGENT: [f"http://{c.ip_addresses[0]}:{CONTAINER_PORT}" for c in agents]}


@pytest.mark.parametrize("reachable", [True, False])
def test_the_collector_goes_to_container_addresses_only_where_they_answer(
    monkeypatch: pytest.MonkeyPatch, reachable: bool
) -> None:
    containers = _stack()
    probed: list[str] = []

    def probe(url: str) -> bool:
        probed.append(url)
        return reachable

    monkeypatch.setattr(discovery, "accepts_connections", probe)
    found = discovery._where_agents_answer(containers)
    assert probed == [agent_addresses(containers)[AGENT][0]]
    assert found == (agent_addresses(containers) if reachable else agent_urls(containers))


def test_accepts_connections_tells_a_listening_port_from_a_closed_one() -> None:
    listening, closed = bound_socket(), bound_socket()
    listening.listen()
    try:
        assert discovery.accepts_connections(f"http://127.0.0.1:{listening.getsockname()[1]}")
        assert not discovery.accepts_connections(f"http://127.0.0.1:{closed.getsockname()[1]}", timeout_s=0.2)
    finally:
        listening.close()
        closed.close()


def test_published_ports_can_be_asked_for(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(discovery, "accepts_connections", lambda url: True)
    monkeypatch.setenv(discovery.ADDRESSES_ENV, "published")
    assert discovery._where_agents_answer(_stack()) == agent_urls(_stack())


def _starting(ip: str) -> list:
    raw = json.loads((DATA / "inspect_weather_stack.json").read_text())
    for container in raw:
        container["State"]["Health"]["Status"] = "starting"  # the engine's next probe is seconds away
        for network in container["NetworkSettings"]["Networks"].values():
            network["IPAddress"] = ip
    return parse_inspect(json.dumps(raw))


def test_ps_shows_a_server_healthy_once_it_answers_even_before_the_engine_probes_it(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    class Health(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200 if self.path == "/health" else 404)
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Health)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    # The probe dials port 8000 at each container's address: here, this test's server on loopback.
    monkeypatch.setattr(wait, "answers_health", partial(wait.answers_health, port=server.server_address[1]))
    try:
        assert {s for row in service_rows(_starting("127.0.0.1")) for s in row["states"]} == {"healthy"}
    finally:
        server.shutdown()
        server.server_close()
    assert {s for row in service_rows(_starting("127.0.0.1")) for s in row["states"]} == {"starting"}

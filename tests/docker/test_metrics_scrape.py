"""`GET /metrics` of a running stack after a collection: every server counted what the collector reported."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.docker.conftest import WEATHER_AGENT, WEATHER_CONFIG, WEATHER_ENV, gymbox

pytestmark = pytest.mark.docker

Samples = dict[tuple[str, tuple[tuple[str, str], ...]], float]
# Fetch from inside a container: only agents publish a port, the other servers answer on the stack's network.
_FETCH = (
    "import urllib.request; print(urllib.request.urlopen('http://127.0.0.1:8000/metrics', timeout=10).read().decode())"
)


def parse(text: str) -> Samples:
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def requests(samples: Samples, route: str, status: str = "200") -> float:
    return samples.get(("gymbox_http_requests_total", (("method", "POST"), ("route", route), ("status", status))), 0)


def test_servers_count_the_rollouts_the_collector_reported(
    weather_images: tuple[str, str], stack_name: str, gymbox_env: dict[str, str], tmp_path: Path
) -> None:
    from gymbox.docker.client import docker
    from gymbox.docker.stack import Stack, agent_urls

    gymbox("up", "-c", str(WEATHER_CONFIG), "-m", "scripted", "--name", stack_name, env=gymbox_env, timeout=600)
    out = tmp_path / "weather.jsonl"
    rows = WEATHER_CONFIG.parents[1] / "data" / "example.jsonl"
    ran = gymbox(
        "rollout", "--stack", stack_name, "--agent", WEATHER_AGENT, "-i", str(rows), "-o", str(out),
        "--repeats", "3", "--json", "--max-failures", "100", env=gymbox_env, timeout=300,
    )  # fmt: skip
    reported = json.loads(ran.stdout)
    rollouts = [json.loads(line) for line in out.read_text().splitlines()]
    written = reported["written"]
    assert written == len(rollouts) == 15
    tool_calls = sum(1 for r in rollouts for item in r["response"]["output"] if item["type"] == "function_call")

    containers = Stack(stack_name).containers()
    [agent_url] = agent_urls(containers)[WEATHER_AGENT]
    with urllib.request.urlopen(f"{agent_url}/metrics", timeout=10) as answer:
        assert answer.headers["Content-Type"].startswith("text/plain")
        agent = parse(answer.read().decode())
    by_instance = {c.instance: c for c in containers}
    environment = parse(docker("exec", by_instance[WEATHER_ENV].id, "python", "-c", _FETCH).stdout)
    model = parse(docker("exec", by_instance["policy_model"].id, "python", "-c", _FETCH).stdout)

    # The agent ran one episode per rollout the collector wrote, and none is left running.
    assert requests(agent, "/run") == written
    assert agent[("gymbox_episodes_in_flight", ())] == 0
    assert agent[("gymbox_http_request_duration_seconds_count", (("route", "/run"),))] == written
    # The environment seeded and verified each, and answered every tool call the rollouts hold.
    assert requests(environment, "/seed_session") == written
    assert requests(environment, "/verify") == written
    assert environment[("gymbox_tool_calls_total", (("outcome", "ok"), ("tool", "get_weather")))] == tool_calls
    assert environment[("gymbox_tool_call_duration_seconds_count", (("tool", "get_weather"),))] == tool_calls
    assert ("gymbox_sessions_held", ()) in environment
    assert not any(name == "gymbox_errors_total" for name, _ in environment)
    # The model answered one step per tool-call turn plus each final answer.
    assert requests(model, "/v1/responses") >= written
    assert model[("gymbox_server_info", (("server", "policy_model"),))] == 1

"""`gymbox rollout --metrics-port`: the collector's counters over real HTTP, as Prometheus scrapes them."""

import asyncio
import json
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client.parser import text_string_to_metric_families
from typer.testing import CliRunner

from gymbox.cli import app
from gymbox.collector.exporter import CollectorExporter
from gymbox.collector.runner import CollectOptions, Collector
from gymbox.config import load_config
from gymbox.testing import running_stack

TOY_CONFIG = Path(__file__).parent / "fixtures" / "toy.yaml"
TOOLS = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in ("write", "crash")]


def task(i: int, *, hit: bool = True, crash: bool = False) -> dict:
    calls = [{"name": "crash" if crash else "write", "arguments": {} if crash else {"text": f"t{i}" if hit else "-"}}]
    script = [{"calls": calls}, {"say": "done"}]
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": f"task {i}"}],
            "tools": TOOLS,
            "metadata": {"gymbox_script": json.dumps(script)},
        },
        "target": f"t{i}",
        "id": i,
    }


@pytest.fixture(scope="module")
def agent_url(module_toy_environments: Path) -> Iterator[str]:
    with running_stack(load_config([TOY_CONFIG], model="scripted", assign_ports=False)) as urls:
        yield urls["toy_agent"]


def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=10) as answer:
        text = answer.read().decode()
    return {
        (s.name, tuple(sorted(s.labels.items()))): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def test_counts_by_status_reward_sum_and_nothing_left_in_flight(agent_url: str, tmp_path: Path) -> None:
    rows = tmp_path / "in.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in [task(0), task(1, hit=False), task(2, crash=True)]))
    exporter = CollectorExporter()
    port = exporter.serve(0)
    try:
        options = CollectOptions(agent="toy_agent", repeats=3, max_attempts=1)
        collector = Collector({"toy_agent": [agent_url]}, tmp_path / "out.jsonl", options, on_outcome=exporter.observe)
        exporter.watch(collector)
        summary = asyncio.run(collector.run(rows))
        got = scrape(port)
    finally:
        exporter.close()
    assert (summary.written, summary.failed) == (6, 3)
    assert got[("gymbox_collector_rollouts_total", (("status", "ok"),))] == 6
    assert got[("gymbox_collector_rollouts_total", (("status", "infra_error"),))] == 3
    assert got[("gymbox_collector_reward_sum", ())] == 3.0  # task 0 passes 3 times, task 1 never
    assert got[("gymbox_collector_in_flight", ())] == 0
    assert got[("gymbox_collector_throughput_rollouts_per_second", ())] > 0


def test_a_port_in_use_is_an_error_that_names_the_option(tmp_path: Path) -> None:
    first = CollectorExporter()
    port = first.serve(0)
    try:
        result = CliRunner().invoke(
            app,
            [
                "rollout",
                "-i",
                str(TOY_CONFIG),
                "-o",
                str(tmp_path / "out.jsonl"),
                "--url",
                "http://127.0.0.1:9",
                "--metrics-port",
                str(port),
            ],
        )
    finally:
        first.close()
    assert result.exit_code != 0
    assert f"--metrics-port {port}: cannot listen" in str(result.exception) + result.output


def test_the_cli_serves_its_counters_while_it_runs(agent_url: str, tmp_path: Path) -> None:
    rows = tmp_path / "in.jsonl"
    rows.write_text(json.dumps(task(0)) + "\n")
    args = ["rollout", "-i", str(rows), "-o", str(tmp_path / "out.jsonl"), "--url", agent_url, "--agent", "toy_agent"]
    result = CliRunner().invoke(app, [*args, "--metrics-port", "0", "--repeats", "2"])
    assert result.exit_code == 0, result.output
    assert "collector metrics: http://127.0.0.1:" in result.output
    assert len((tmp_path / "out.jsonl").read_text().splitlines()) == 2

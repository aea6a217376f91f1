"""What `gymbox up` shows while it waits: the wait's per-service report (recorded containers, no Docker) and
the plain-line display used when stderr is not a terminal."""

from __future__ import annotations

import io
from pathlib import Path

from rich.console import Console

from gymbox.cli.up_progress import UpProgress
from gymbox.docker import wait
from gymbox.docker.records import parse_inspect
from tests.test_docker_wait import EXPECTED, FakeProc, FakeStack

DATA = Path(__file__).parent / "data" / "docker"


def test_the_wait_reports_every_services_state_until_all_are_healthy(tmp_path: Path) -> None:
    containers = parse_inspect((DATA / "inspect_weather_stack.json").read_text())
    reports: list[dict[str, str]] = []
    with wait.progress_to(reports.append):
        wait.wait_healthy(FakeStack(containers), EXPECTED, FakeProc(0), tmp_path / "log", timeout=5)  # type: ignore[arg-type]
    assert set(reports[0]) == set(EXPECTED)
    assert reports[-1] == dict.fromkeys(EXPECTED, "healthy")


def test_a_service_compose_has_not_made_yet_says_so() -> None:
    containers = parse_inspect((DATA / "inspect_weather_stack.json").read_text())
    states = wait.service_states(containers, {**EXPECTED, "policy_model-vllm": 1})
    assert states["policy_model-vllm"] == wait.NOT_CREATED


def test_no_report_outside_progress_to(tmp_path: Path) -> None:
    containers = parse_inspect((DATA / "inspect_weather_stack.json").read_text())
    assert wait.wait_healthy(FakeStack(containers), EXPECTED, FakeProc(0), tmp_path / "log", timeout=5)  # type: ignore[arg-type]


def test_plain_lines_print_each_change_once_with_the_time() -> None:
    out = io.StringIO()
    with UpProgress("demo", Console(file=out, width=200), live=False) as progress:
        progress.log("gymbox/runtime:abc is up to date")
        progress.services({"policy_model": "starting", "agent": wait.NOT_CREATED})
        progress.services({"policy_model": "starting", "agent": wait.NOT_CREATED})  # no change: no line
        progress.services({"policy_model": "healthy", "agent": "starting"})
    lines = out.getvalue().splitlines()
    texts = [line.split("] ", 1)[1] for line in lines]
    assert texts == [
        "gymbox/runtime:abc is up to date",
        "starting stack demo (2 services)",
        "policy_model: starting",
        "agent: not created",
        "policy_model: healthy",
        "agent: starting",
    ]
    assert all(line.startswith("[") and "s] " in line for line in lines)


def test_a_long_wait_prints_a_still_waiting_line() -> None:
    out = io.StringIO()
    progress = UpProgress("demo", Console(file=out, width=200), live=False)
    progress.services({"vllm": "starting"})
    progress.last_line -= 31  # the last line was printed 31 s ago
    progress.services({"vllm": "starting"})
    assert out.getvalue().splitlines()[-1].endswith("still waiting for vllm: starting")


def test_a_terminal_gets_a_live_panel() -> None:
    console = Console(file=io.StringIO(), force_terminal=True, width=100)
    with UpProgress("demo", console) as progress:
        assert progress.live is not None
        progress.services({"policy_model": "healthy"})
        console.file.seek(0)
    assert "policy_model: healthy" in console.file.getvalue()  # type: ignore[attr-defined]

"""Waiting for a stack to be healthy, and the errors when it is not (recorded containers, no Docker)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from gymbox.docker import wait
from gymbox.docker.records import Container, parse_inspect
from gymbox.docker.service import NEMO_LABEL
from gymbox.errors import StackError

DATA = Path(__file__).parent / "data" / "docker"
EXPECTED = {"policy_model": 1, "example_single_tool_call": 1, "example_single_tool_call_simple_agent": 2}


@dataclass
class FakeStack:
    containers_seen: list[Container]
    name: str = "weather"
    directory: Path = Path("compose/weather")
    log_text: str = "line 1\nTraceback: boom"
    asked_logs: list[str] = field(default_factory=list)

    def containers(self) -> list[Container]:
        return self.containers_seen

    def logs(self, container: Container, tail: int | None = 30) -> str:
        self.asked_logs.append(container.short_name)
        return self.log_text


class FakeProc:
    def __init__(self, code: int | None) -> None:
        self.code = code

    def poll(self) -> int | None:
        return self.code


def _healthy() -> list[Container]:
    return parse_inspect((DATA / "inspect_weather_stack.json").read_text())


def _failed() -> tuple[Container, Container]:
    exited, unhealthy = parse_inspect((DATA / "inspect_failed.json").read_text())
    return exited, unhealthy


def test_returns_when_compose_is_done_and_all_are_healthy(tmp_path: Path) -> None:
    containers = _healthy()
    got = wait.wait_healthy(
        FakeStack(containers),
        EXPECTED,
        FakeProc(0),
        tmp_path / "log",  # type: ignore[arg-type]
        timeout=5,
    )
    assert got == containers


def test_a_crashed_container_is_named_with_its_logs_and_a_hint(tmp_path: Path) -> None:
    exited, _ = _failed()
    stack = FakeStack([*_healthy(), exited])
    with pytest.raises(StackError) as info:
        wait.wait_healthy(stack, EXPECTED, FakeProc(None), tmp_path / "log", timeout=5)  # type: ignore[arg-type]
    message = str(info.value)
    assert "container rec-exited) is exited(3)" in message
    assert "  | Traceback: boom" in message
    assert "Hint: the server crashed on start" in message
    assert "gymbox serve -c compose/weather/stack.yaml --name crashy" in message


def test_an_unhealthy_container_gets_the_healthcheck_hint(tmp_path: Path) -> None:
    _, unhealthy = _failed()
    with pytest.raises(StackError, match=r"is unhealthy[\s\S]*Hint: it runs but GET /health"):
        wait.wait_healthy(
            FakeStack([unhealthy]),
            {},
            FakeProc(None),
            tmp_path / "log",  # type: ignore[arg-type]
            timeout=5,
        )


def test_containers_being_replaced_are_not_failures_while_compose_runs(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    exited, _ = _failed()
    monkeypatch.setattr(wait, "POLL_S", 0.01)
    with pytest.raises(StackError, match="not healthy after"):  # times out instead of failing on it
        wait.wait_healthy(
            FakeStack([exited]),
            {"x": 1},
            FakeProc(None),
            tmp_path / "log",  # type: ignore[arg-type]
            timeout=0.05,
            previous={exited.id},
        )


def test_compose_failing_shows_its_output_and_a_hint(tmp_path: Path) -> None:
    log = tmp_path / "compose.log"
    log.write_text("Pulling x ...\nERROR: pull access denied for gymbox/env-x, repository does not exist\n")
    with pytest.raises(StackError) as info:
        wait.wait_healthy(FakeStack([]), EXPECTED, FakeProc(1), log, timeout=5)  # type: ignore[arg-type]
    message = str(info.value)
    assert "`compose up` failed with exit code 1" in message
    assert "pull access denied" in message
    assert "Hint: an image is missing" in message


def test_timeout_names_what_is_still_starting(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wait, "POLL_S", 0.01)
    with pytest.raises(StackError, match=r"not healthy after 0.05 s: services not created yet: x"):
        wait.wait_healthy(
            FakeStack(_healthy()),
            {**EXPECTED, "x": 1},
            FakeProc(0),
            tmp_path / "log",  # type: ignore[arg-type]
            timeout=0.05,
        )


def _restarting(nemo: bool, restarts: int) -> Container:
    """The recorded crashed container, as Docker shows it while its restart policy starts it again."""
    (raw, _) = json.loads((DATA / "inspect_failed.json").read_text())
    raw["State"].update(Status="restarting", Restarting=True)
    raw["State"]["Health"] = {"Status": "unhealthy", "FailingStreak": 0, "Log": []}  # as Docker shows it then
    raw["RestartCount"] = restarts
    if nemo:
        raw["Config"]["Labels"][NEMO_LABEL] = "0.4.0"
    (container,) = parse_inspect(json.dumps([raw]))
    return container


@pytest.mark.parametrize(
    ("nemo", "restarts", "waited"), [(True, 1, True), (True, wait.NEMO_RESTARTS_WAITED + 1, False), (False, 1, False)]
)
def test_a_nemo_server_restarting_after_a_ray_flake_is_waited_for(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, nemo: bool, restarts: int, waited: bool
) -> None:
    monkeypatch.setattr(wait, "POLL_S", 0.01)
    stack = FakeStack([_restarting(nemo, restarts)])
    # Waited through: the wait goes on to its timeout. Given up: a crash, at once.
    with pytest.raises(StackError, match="not healthy after" if waited else "is restarting after"):
        wait.wait_healthy(stack, {"crashy": 1}, FakeProc(0), tmp_path / "log", timeout=0.05)  # type: ignore[arg-type]

"""The `up` lock and the compose record: a second `up` of a stack is refused, and a `down` after a
killed `up` stops the compose process it left running, never a process that merely reuses its pid."""

from __future__ import annotations

import json
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from gymbox.docker.up_lock import (
    COMPOSE_RECORD,
    process_start_time,
    record_compose,
    stop_recorded_compose,
    up_lock,
)
from gymbox.errors import StackError


@pytest.fixture
def stand_in_compose() -> Iterator[subprocess.Popen[bytes]]:
    """A long `sleep` in its own session, as `compose up` is started, standing in for it."""
    proc = subprocess.Popen(["sleep", "60"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def test_a_second_up_of_the_same_stack_is_refused_with_the_holder(tmp_path: Path) -> None:
    with up_lock(tmp_path / "weather", "weather"):
        with pytest.raises(StackError, match=rf"another `gymbox up` \(pid {os.getpid()};") as caught:
            with up_lock(tmp_path / "weather", "weather"):
                pass
        assert "gymbox down --name weather" in str(caught.value)
        with up_lock(tmp_path / "other", "other"):  # another stack is not held up
            pass
    with up_lock(tmp_path / "weather", "weather"):  # released when the first `up` ends
        pass


def test_down_stops_the_compose_process_a_killed_up_left(
    tmp_path: Path, stand_in_compose: subprocess.Popen[bytes]
) -> None:
    record_compose(tmp_path, stand_in_compose.pid)
    assert stop_recorded_compose(tmp_path) == stand_in_compose.pid
    assert stand_in_compose.wait(timeout=5) != 0  # signalled
    assert not (tmp_path / COMPOSE_RECORD).exists()
    assert stop_recorded_compose(tmp_path) is None  # nothing left to stop


def test_a_reused_pid_is_never_signalled(tmp_path: Path, stand_in_compose: subprocess.Popen[bytes]) -> None:
    started = process_start_time(stand_in_compose.pid)
    assert started is not None
    record = {"pid": stand_in_compose.pid, "start_time": started - 1}  # the recorded process is long gone
    (tmp_path / COMPOSE_RECORD).write_text(json.dumps(record))
    assert stop_recorded_compose(tmp_path) is None
    assert stand_in_compose.poll() is None
    assert not (tmp_path / COMPOSE_RECORD).exists()


@pytest.mark.parametrize("text", ["", "{", '{"pid": "x"}', '{"pid": 1}', "[]"])
def test_a_torn_record_signals_nothing(tmp_path: Path, text: str) -> None:
    (tmp_path / COMPOSE_RECORD).write_text(text)
    assert stop_recorded_compose(tmp_path) is None

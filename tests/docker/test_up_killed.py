"""kill -9 of `gymbox up` at different moments, then `gymbox down --name`: nothing labelled with the
stack is left when `down` returns, nor a moment later (a compose process the killed `up` left running
would still be creating containers). A second `up` of a stack being started is refused."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
import uuid
from collections.abc import Callable
from pathlib import Path

import pytest

from gymbox.docker.up_lock import COMPOSE_RECORD, LOCK_FILE
from tests.docker.conftest import ROOT, WEATHER_CONFIG, gymbox, leftovers

pytestmark = pytest.mark.docker

WAIT_S = 300  # for the moment to come, on a loaded host


def labelled_containers(stack: str) -> int:
    return len(leftovers(stack)["containers"])


def moments(compose_dir: Path, stack: str) -> dict[str, Callable[[], bool]]:
    """When to kill `up`: each a condition polled until it holds."""
    folder = compose_dir / stack
    return {
        "before compose starts": lambda: (folder / LOCK_FILE).exists(),
        "as compose starts": lambda: (folder / COMPOSE_RECORD).exists(),
        "while compose creates containers": lambda: labelled_containers(stack) >= 1,
        "while containers get healthy": lambda: labelled_containers(stack) >= 3,
    }


@pytest.mark.parametrize("moment", range(4), ids=list(moments(Path(), "x")))
def test_down_after_a_killed_up_leaves_nothing(
    moment: int, weather_images: tuple[str, str], gymbox_env: dict[str, str], compose_dir: Path, tmp_path: Path
) -> None:
    stack = f"upkill-{uuid.uuid4().hex[:6]}"
    reached = list(moments(compose_dir, stack).values())[moment]
    argv = [str(Path(sys.executable).parent / "gymbox"), "up", "-c", str(WEATHER_CONFIG), "-m", "scripted"]
    log = tmp_path / "up.log"
    with log.open("wb") as out:
        up = subprocess.Popen([*argv, "--name", stack], env=gymbox_env, cwd=ROOT, stdout=out, stderr=out)
    try:
        deadline = time.monotonic() + WAIT_S
        while not reached():
            assert up.poll() is None, f"`up` ended before the moment: {log.read_text()[-2000:]}"
            assert time.monotonic() < deadline, "the moment never came"
            time.sleep(0.05)
        if moment == 2:  # a second `up` of a stack being started fails at once, naming the first
            second = gymbox(*argv[1:], "--name", stack, env=gymbox_env, check=False, timeout=300)
            assert second.returncode != 0
            assert f"another `gymbox up` (pid {up.pid}" in second.stderr, second.stderr
        up.send_signal(signal.SIGKILL)
        up.wait()
        down = gymbox("down", "--name", stack, env=gymbox_env, timeout=300)
        assert leftovers(stack) == {"containers": [], "networks": [], "volumes": []}, down.stderr
        time.sleep(3)  # an orphaned compose would have created more by now
        assert leftovers(stack) == {"containers": [], "networks": [], "volumes": []}
    finally:
        if up.poll() is None:
            up.kill()
            up.wait()
        gymbox("down", "--name", stack, env=gymbox_env, check=False, timeout=300)

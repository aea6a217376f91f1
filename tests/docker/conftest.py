"""Docker-marked tests: gated by one session fixture that checks the engine.

Locally, no engine means every test here is skipped with the reason; in CI (`CI=true`) it is a failure,
so a broken runner never passes by skipping. Builds honour GYMBOX_CA_BUNDLE / GYMBOX_BASE_IMAGE, as
`.ci/run` sets them.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
WEATHER_CONFIG = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
WEATHER_ENV = "example_single_tool_call"
WEATHER_AGENT = "example_single_tool_call_simple_agent"


@pytest.fixture(scope="session")
def docker_engine() -> None:
    from gymbox.docker.client import compose_base, engine_available
    from gymbox.errors import DockerError

    why = engine_available()
    if why is None:
        try:
            compose_base()
        except DockerError as exc:
            why = exc.stderr
    if why is not None:
        message = f"no usable Docker engine: {why.strip().splitlines()[-1] if why.strip() else why}"
        if os.environ.get("CI") == "true":
            pytest.fail(f"{message} (CI=true: Docker tests must run here)", pytrace=False)
        pytest.skip(message)


@pytest.fixture(autouse=True)
def _needs_docker(docker_engine: None) -> None:
    """Every test in this folder needs the engine."""


@pytest.fixture(scope="session")
def compose_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("compose")


@pytest.fixture(scope="session")
def gymbox_env(compose_dir: Path) -> dict[str, str]:
    """The environment `gymbox` subprocesses run with: stacks rendered into a temp folder."""
    env = dict(os.environ, GYMBOX_COMPOSE_DIR=str(compose_dir), TESTCONTAINERS_RYUK_DISABLED="true")
    env.pop("GYMBOX_ENVIRONMENTS_DIR", None)
    return env


@pytest.fixture(scope="session")
def weather_images(docker_engine: None) -> tuple[str, str]:
    """(runtime tag, weather env tag), built once (or found: tags are content hashes)."""
    from gymbox.docker.images import BuildOptions, build_images, resolve_ca_bundle

    options = BuildOptions(ca_bundle=resolve_ca_bundle(None))
    images = build_images(options, [WEATHER_ENV])
    return images.runtime, images.environments[WEATHER_ENV]


def gymbox(
    *args: str, env: dict[str, str], timeout: float = 600, check: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI, as a user would."""
    result = subprocess.run(
        [str(Path(sys.executable).parent / "gymbox"), *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"gymbox {' '.join(args)} exited {result.returncode}:\n{result.stdout}\n{result.stderr}")
    return result


def up_nemo_stack(config: Path, stack: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """`gymbox up -c CONFIG -m scripted` for a stack with NeMo Gym servers: on a cold machine the nemo-gym
    layer builds first (about 5 minutes) and each server's Ray client takes minutes to connect."""
    return gymbox("up", "-c", str(config), "-m", "scripted", "--name", stack, "--timeout", "900", env=env, timeout=2400)


@pytest.fixture
def stack_name() -> Iterator[str]:
    """A fresh stack name, whose leftovers are removed whatever the test did."""
    from gymbox.docker.stack import Stack

    name = f"test-{uuid.uuid4().hex[:8]}"
    yield name
    Stack(name).down()


def leftovers(stack: str) -> dict[str, list[str]]:
    """What the engine still holds with the stack's label."""
    from gymbox.docker.client import docker

    label = f"label=gymbox.stack={stack}"
    return {
        "containers": docker("ps", "-aq", "--filter", label).stdout.split(),
        "networks": docker("network", "ls", "-q", "--filter", label).stdout.split(),
        "volumes": docker("volume", "ls", "-q", "--filter", label).stdout.split(),
    }

"""`gymbox test-env`: an environment's tests, run inside its image, with pytest's exit code."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.docker.conftest import ROOT, WEATHER_ENV, gymbox

pytestmark = pytest.mark.docker

TESTS = """
def test_passes():
    assert True


def test_fails():
    assert False, "this one fails on purpose"


async def test_async_tests_run_too():
    assert True
"""


@pytest.fixture
def demo_env(tmp_path: Path, gymbox_env: dict[str, str]) -> dict[str, str]:
    """A copy of the weather environment with a tests/ of our own, in its own environments dir."""
    env_dir = tmp_path / "demo"
    shutil.copytree(ROOT / "environments" / WEATHER_ENV, env_dir, ignore=shutil.ignore_patterns("tests", "__pycache__"))
    (env_dir / "tests").mkdir()
    (env_dir / "tests" / "test_demo.py").write_text(TESTS)
    return dict(gymbox_env, GYMBOX_ENVIRONMENTS_DIR=str(tmp_path))


def test_exit_code_is_pytests(demo_env: dict[str, str], weather_images: tuple[str, str]) -> None:
    passed = gymbox("test-env", "demo", "--", "-k", "not fails", env=demo_env, check=False)
    assert passed.returncode == 0, passed.stdout + passed.stderr
    assert "2 passed" in passed.stdout
    failed = gymbox("test-env", "demo", env=demo_env, check=False)
    assert failed.returncode == 1
    assert "this one fails on purpose" in failed.stdout


ENVIRONMENTS = sorted(path.parent.name for path in (ROOT / "environments").glob("*/Dockerfile"))


@pytest.mark.parametrize("name", ENVIRONMENTS)
def test_every_environment_passes_its_tests_in_its_own_image(name: str, gymbox_env: dict[str, str]) -> None:
    """Each environment's tests, with exactly the dependencies it serves with (the host venv may lack them)."""
    result = gymbox("test-env", name, env=gymbox_env, check=False, timeout=1800)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert " passed" in result.stdout
    assert " failed" not in result.stdout

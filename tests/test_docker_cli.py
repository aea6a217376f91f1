"""The Docker commands' command-line surface, without Docker (images and engine calls stubbed)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from typer.testing import CliRunner

from gymbox.cli import app
from gymbox.docker import images

ROOT = Path(__file__).resolve().parent.parent
WEATHER = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"


@pytest.fixture
def stubbed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYMBOX_COMPOSE_DIR", str(tmp_path / "compose"))
    monkeypatch.delenv("GYMBOX_CA_BUNDLE", raising=False)
    monkeypatch.setattr(
        images,
        "planned_images",
        lambda stack, options: images.StackImages(
            "gymbox/runtime:r", {name: f"gymbox/env-{name}:e" for name in images.environments_of(stack)}
        ),
    )
    return tmp_path / "compose"


def test_render_writes_the_stack_folder(stubbed: Path) -> None:
    result = CliRunner().invoke(app, ["render", "-c", str(WEATHER), "-m", "scripted"])
    assert result.exit_code == 0, result.output
    folder = stubbed / "example_single_tool_call"
    assert result.output.strip() == str(folder)
    compose = yaml.safe_load((folder / "docker-compose.yaml").read_text())
    assert compose["services"]["example_single_tool_call"]["image"] == "gymbox/env-example_single_tool_call:e"
    assert (folder / "stack.yaml").is_file()
    assert (folder / ".env").is_file()


def test_render_takes_a_stack_name(stubbed: Path) -> None:
    result = CliRunner().invoke(app, ["render", "-c", str(WEATHER), "-m", "scripted", "--name", "mine"])
    assert result.exit_code == 0, result.output
    assert (stubbed / "mine" / "docker-compose.yaml").is_file()


def test_commands_are_registered() -> None:
    result = CliRunner().invoke(app, ["--help"])
    for command in ("build", "render", "up", "down", "ps", "logs", "test-env", "images"):
        assert command in result.output
    assert "bootstrap" in CliRunner().invoke(app, ["images", "--help"]).output

"""Which stack `rollout`, `ps`, `logs` and `down` mean without --name: only one made from this directory.

The engine is replaced by `EngineDouble` (a test double holding stack names and container labels), so
these run without Docker; tests/docker/test_cli_stack.py does the same against a real engine."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymbox.cli import app
from gymbox.cli.stack_choice import COMPOSE_FILES_LABEL, choose_stack
from gymbox.docker import stack as stack_module
from gymbox.docker.records import Container
from gymbox.errors import StackError


@dataclass
class EngineDouble:
    """Stacks on a pretend engine: name -> the compose file its containers say they came from."""

    stacks: dict[str, str] = field(default_factory=dict)
    removed: list[str] = field(default_factory=list)

    def install(self, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setattr(stack_module, "all_stack_names", lambda: sorted(self.stacks))
        monkeypatch.setattr(stack_module.Stack, "containers", lambda s: self._containers(s.name))
        monkeypatch.setattr(stack_module.Stack, "down", lambda s, keep_cache=False: self._down(s.name))

    def _containers(self, name: str) -> list[Container]:
        if name not in self.stacks:
            return []
        return [
            Container.model_validate(
                {
                    "Id": f"{name}-1",
                    "Name": f"/gymbox-{name}_agent_1",
                    "State": {"Status": "running", "Running": True},
                    "Config": {"Labels": {"gymbox.stack": name, COMPOSE_FILES_LABEL: self.stacks[name]}},
                    "NetworkSettings": {},
                }
            )
        ]

    def _down(self, name: str) -> dict[str, int]:
        self.removed.append(name)
        return {"containers": 1, "networks": 1, "volumes": 0}


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """This directory's compose folder."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYMBOX_COMPOSE_DIR", str(tmp_path / "compose"))
    return tmp_path / "compose"


def _made_here(compose: Path, name: str) -> str:
    (compose / name).mkdir(parents=True)
    (compose / name / "docker-compose.yaml").write_text("version: '2.4'\n")
    return str((compose / name / "docker-compose.yaml").resolve())


def test_the_one_stack_made_here_is_chosen(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EngineDouble(
        {"mine": _made_here(here, "mine"), "theirs": "/home/other/compose/theirs/docker-compose.yaml"}
    ).install(monkeypatch)
    assert choose_stack(None, "down") == "mine"
    assert choose_stack("theirs", "down") == "theirs"  # an explicit --name is taken as said


def test_down_refuses_a_stack_made_elsewhere(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EngineDouble({"theirs": "/home/other/compose/theirs/docker-compose.yaml"})
    engine.install(monkeypatch)
    result = CliRunner().invoke(app, ["down"])
    assert isinstance(result.exception, StackError)
    assert "no stack on this engine was made from this directory" in str(result.exception)
    assert "gymbox down --name theirs" in str(result.exception)
    assert engine.removed == []


def test_a_same_named_stack_from_another_checkout_is_not_ours(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _made_here(here, "demo")  # our folder, but the running containers came from someone else's file
    engine = EngineDouble({"demo": "/home/other/compose/demo/docker-compose.yaml"})
    engine.install(monkeypatch)
    result = CliRunner().invoke(app, ["down"])
    assert isinstance(result.exception, StackError)
    assert engine.removed == []


def test_down_refuses_to_guess_among_several(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EngineDouble({"a": _made_here(here, "a"), "b": _made_here(here, "b")})
    engine.install(monkeypatch)
    result = CliRunner().invoke(app, ["down"])
    assert "2 stacks were made from this directory (a, b)" in str(result.exception)
    assert engine.removed == []
    assert CliRunner().invoke(app, ["down", "--name", "b"]).exit_code == 0
    assert engine.removed == ["b"]


def test_down_all_means_every_stack_made_here(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    engine = EngineDouble(
        {"a": _made_here(here, "a"), "b": _made_here(here, "b"), "theirs": "/elsewhere/docker-compose.yaml"}
    )
    engine.install(monkeypatch)
    result = CliRunner().invoke(app, ["down", "--all", "--json"])
    assert result.exit_code == 0, result.output
    assert sorted(engine.removed) == ["a", "b"]
    assert sorted(json.loads(result.stdout)["removed"]) == ["a", "b"]


def test_ps_lists_the_stacks_made_here_and_all_lists_every_one(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    EngineDouble({"mine": _made_here(here, "mine"), "theirs": "/elsewhere/docker-compose.yaml"}).install(monkeypatch)
    mine = json.loads(CliRunner().invoke(app, ["ps", "--json"]).stdout)
    assert [s["name"] for s in mine] == ["mine"]
    every = json.loads(CliRunner().invoke(app, ["ps", "--all", "--json"]).stdout)
    assert [s["name"] for s in every] == ["mine", "theirs"]

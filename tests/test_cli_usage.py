"""Usage errors, --version and help through the real `gymbox` executable: one line, exit 2, no traceback."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path
from typing import Any

import pytest

from tests.cli_helpers import WEATHER_ROWS, gymbox


def _one_line_usage_error(result: object) -> str:
    assert result.returncode == 2, (result.stdout, result.stderr)  # type: ignore[attr-defined]
    stderr: str = result.stderr  # type: ignore[attr-defined]
    assert "Traceback" not in stderr
    assert len(stderr.strip().splitlines()) == 1, stderr
    assert stderr.startswith("error: ")
    return stderr


def test_an_unknown_option_is_one_line_with_exit_2() -> None:
    stderr = _one_line_usage_error(gymbox("rollout", "--bogus"))
    assert "No such option: --bogus" in stderr
    assert "`gymbox rollout --help`" in stderr


def test_a_typo_gets_a_did_you_mean() -> None:
    assert "did you mean --repeats" in _one_line_usage_error(gymbox("rollout", "--repeat", "2"))
    assert "did you mean up?" in _one_line_usage_error(gymbox("uo"))
    assert "prune" in _one_line_usage_error(gymbox("images", "prnue"))


def test_a_missing_required_option_names_it(tmp_path: Path) -> None:
    stderr = _one_line_usage_error(gymbox("rollout", "-o", str(tmp_path / "out.jsonl")))
    assert "--input" in stderr


def test_a_bad_value_names_the_option(tmp_path: Path) -> None:
    stderr = _one_line_usage_error(
        gymbox("rollout", "-i", str(WEATHER_ROWS), "-o", str(tmp_path / "o.jsonl"), "--max-failures", "lots")
    )
    assert "--max-failures" in stderr
    assert not (tmp_path / "o.jsonl").exists()


def test_bare_gymbox_prints_the_help_and_exits_2() -> None:
    result = gymbox()
    assert result.returncode == 2
    assert "Usage: gymbox" in result.stdout
    assert "Traceback" not in result.stderr


def test_version() -> None:
    result = gymbox("--version")
    assert result.returncode == 0
    assert result.stdout.strip() == f"gymbox {version('gymbox')}"


def _commands() -> list[list[str]]:
    """Every command and subcommand of the CLI, as argv."""
    import typer.main

    from gymbox.cli import app

    found: list[list[str]] = []

    def walk(command: Any, path: list[str]) -> None:
        subcommands = getattr(command, "commands", {})
        if not subcommands:
            found.append(path)
        for name, sub in subcommands.items():
            walk(sub, [*path, name])

    walk(typer.main.get_command(app), [])
    return found


# A metavar says what to type (FILE, N, KEY=VALUE), not a Python type (`<list[Path]>`, `<int range>`).
PYTHON_TYPE_METAVAR = re.compile(r"<(list\[|int|float|str|path|file|text|bool|choice)[^>]*>", re.IGNORECASE)


@pytest.mark.parametrize("command", _commands(), ids=" ".join)
def test_help_shows_readable_metavars(command: list[str]) -> None:
    result = gymbox(*command, "--help")
    assert result.returncode == 0, result.stderr
    options = [line for line in result.stdout.splitlines() if line.lstrip().startswith("-")]
    assert options
    assert not [line for line in options if PYTHON_TYPE_METAVAR.search(line)], result.stdout

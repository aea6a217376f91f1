"""`gymbox build-env`: a scaffolded environment works as it is — its app in-process, its rows, its own tests
in a subprocess, `gymbox data validate` — and bad names or an existing folder are refused with nothing written.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner

from gymbox.cli import app
from gymbox.errors import ConfigError
from gymbox.model_servers.scripted_model import ScriptedTurn
from gymbox.protocol import RunRequest
from gymbox.registry import load_environment
from gymbox.scaffold import ScaffoldedEnvironment, scaffold_environment, templates

ROOT = Path(__file__).resolve().parent.parent
FILES = [
    "Dockerfile",
    "README.md",
    "app.py",
    "configs/{name}.yaml",
    "data/example.jsonl",
    "requirements.txt",
    "tests/test_app.py",
]
LONG_TOOL = "look_up_a_thing_with_a_name_long_enough_to_wrap_its_definition_x"  # 64 characters


@pytest.fixture(scope="module")
def quiz(tmp_path_factory: pytest.TempPathFactory) -> ScaffoldedEnvironment:
    """A two-tool environment, scaffolded once for the module (tools given out of order on purpose)."""
    return scaffold_environment("trivia_quiz", ["search", "calc"], tmp_path_factory.mktemp("envs"))


def files_under(folder: Path) -> list[str]:
    return sorted(path.relative_to(folder).as_posix() for path in folder.rglob("*") if path.is_file())


def message(text: str) -> dict[str, object]:
    return {
        "type": "message",
        "id": "msg_1",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


# ------------------------------------------------------------------ the command


def test_build_env_writes_every_file_and_prints_the_next_steps(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.delenv("GYMBOX_ENVIRONMENTS_DIR", raising=False)
    result = CliRunner().invoke(app, ["build-env", "notes", "--dir", "mine"])
    assert result.exit_code == 0, result.output
    assert files_under(tmp_path / "mine" / "notes") == [f.format(name="notes") for f in FILES]
    assert "created mine/notes/ (NotesServer; tools: lookup)" in result.output  # the default tool
    for step in (
        "pytest mine/notes",
        "GYMBOX_ENVIRONMENTS_DIR=mine gymbox test-env notes",
        "GYMBOX_ENVIRONMENTS_DIR=mine gymbox up -c mine/notes/configs/notes.yaml -m scripted --name notes",
        "gymbox rollout --stack notes --agent notes_simple_agent -i mine/notes/data/example.jsonl",
        "gymbox down --name notes",
    ):
        assert f"  {step}" in result.output
    assert list((tmp_path / "mine").iterdir()) == [tmp_path / "mine" / "notes"]  # no staging folder left


def test_the_default_folder_is_the_environments_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GYMBOX_ENVIRONMENTS_DIR", str(tmp_path / "envs"))
    result = CliRunner().invoke(app, ["build-env", "notes", "--tool", "search", "-t", "fetch"])
    assert result.exit_code == 0, result.output
    assert (tmp_path / "envs" / "notes" / "app.py").is_file()
    assert "tools: search, fetch" in result.output
    assert "  gymbox test-env notes" in result.output  # found there without the variable
    config = (tmp_path / "envs/notes/configs/notes.yaml").read_text()
    assert "jsonl_fpath: envs/notes/data/example.jsonl" in config  # like the examples': from the dir's parent


def test_an_existing_folder_is_never_overwritten(tmp_path: Path) -> None:
    (tmp_path / "notes").mkdir()
    (tmp_path / "notes" / "mine.txt").write_text("keep me")
    result = CliRunner().invoke(app, ["build-env", "notes", "--dir", str(tmp_path)])
    assert result.exit_code == 1
    assert f"{tmp_path / 'notes'} already exists" in str(result.exception)
    assert files_under(tmp_path) == ["notes/mine.txt"]


@pytest.mark.parametrize(
    ("name", "problem"),
    [
        ("Trivia", "is not lower-case snake_case"),
        ("2fast", "is not lower-case snake_case"),
        ("my-env", "is not lower-case snake_case"),
        ("my__env", "is not lower-case snake_case"),
        ("env_", "is not lower-case snake_case"),
        ("class", "is a Python keyword"),
        ("match", "is a Python keyword"),
        ("a" * 41, "the limit is 40"),
        ("policy_model", "an instance name the config already uses"),
    ],
)
def test_a_bad_environment_name_is_refused(tmp_path: Path, name: str, problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        scaffold_environment(name, ["lookup"], tmp_path)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize(
    ("tools", "problem"),
    [
        (["Lookup"], "tool name 'Lookup' is not lower-case snake_case"),
        (["def"], "tool name 'def' is a Python keyword"),
        (["verify"], "tool name 'verify' is taken by the resources server"),
        (["seed_session"], "is taken by the resources server"),
        (["health"], "is taken by the resources server"),
        (["tool_definitions"], "is taken by the resources server"),
        (["sessions"], "is taken by the resources server"),
        (["a" * 65], "the limit is 64"),
        (["lookup", "lookup"], "tool 'lookup' is given twice"),
        (["find_2", "find2"], "tool 'find2' and 'find_2' would share class names"),
    ],
)
def test_a_bad_tool_name_is_refused(tmp_path: Path, tools: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        scaffold_environment("notes", tools, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_a_failure_half_way_leaves_nothing_behind(tmp_path: Path) -> None:
    tools = [f"tool_number_{i}_with_a_longer_name" for i in range(8)]  # their example script is too long
    with pytest.raises(ConfigError, match="over the 512 a metadata value may hold"):
        scaffold_environment("notes", tools, tmp_path)
    assert list(tmp_path.iterdir()) == []


# ------------------------------------------------------------------ what it generates


async def test_the_app_serves_its_tools_and_verifies_by_exact_match(quiz: ScaffoldedEnvironment) -> None:
    server = load_environment(quiz.name, quiz.path)
    assert server.__name__ == quiz.class_name == "TriviaQuizServer"
    assert [tool["name"] for tool in server.tool_definitions()] == ["calc", "search"]
    row = json.loads((quiz.path / "data/example.jsonl").read_text().splitlines()[0])
    transport = httpx.ASGITransport(app=server().build_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://env") as client:
        assert (await client.post("/seed_session", json=row)).status_code == 200
        calc = (await client.post("/calc", json={"query": " Alpha "})).json()
        search = (await client.post("/search", json={"query": "alpha"})).json()
        assert calc["query"] == "Alpha"
        assert f"{calc['result']} {search['result']}" == row["expected_answer"]
        bad = await client.post("/calc", json={"query": ""})
        assert bad.status_code == 422
        assert "query:" in bad.json()["error"]
        no_answer = await client.post("/seed_session", json={k: v for k, v in row.items() if k != "expected_answer"})
        assert no_answer.status_code == 422
        assert "expected_answer" in no_answer.json()["error"]
        for text, reward in [
            (row["expected_answer"], 1.0),
            (f"  {row['expected_answer'].upper()}\n", 1.0),
            ("ember", 0.0),
            ("", 0.0),
        ]:
            assert (await client.post("/seed_session", json=row)).status_code == 200  # verify ends an episode
            verified = await client.post("/verify", json={**row, "response": {"output": [message(text)]}})
            assert verified.status_code == 200, verified.text
            assert verified.json()["reward"] == reward, text


def test_the_example_rows_match_the_app(quiz: ScaffoldedEnvironment) -> None:
    server = load_environment(quiz.name, quiz.path)
    words = sys.modules[server.__module__].PLACEHOLDER_WORDS
    rows = [json.loads(line) for line in (quiz.path / "data/example.jsonl").read_text().splitlines()]
    assert [row["id"] for row in rows] == [0, 1, 2, 3, 4]
    assert quiz.example_rewards == [1.0, 1.0, 1.0, 0.0, 0.0]
    for row in rows:
        RunRequest.model_validate(row)
        assert row["responses_create_params"]["tools"] == server.tool_definitions()
        answer = row["expected_answer"].split()
        assert len(answer) == 2
        assert set(answer) <= set(words)
        script = row["responses_create_params"]["metadata"]["gymbox_script"]
        assert len(script) <= 512
        turns = [ScriptedTurn.model_validate(turn) for turn in json.loads(script)]
        assert {call.name for turn in turns for call in turn.calls} == {"calc", "search"}
        assert turns[-1].say is not None
        assert turns[-1].calls == []


def test_the_dockerfile_is_the_examples_own(quiz: ScaffoldedEnvironment) -> None:
    dockerfile = templates().get_template("Dockerfile.j2")
    for example in ("example_single_tool_call", "example_multi_step", "example_session_state_mgmt"):
        assert dockerfile.render(name=example) == (ROOT / "environments" / example / "Dockerfile").read_text()
    assert (quiz.path / "Dockerfile").read_text() == dockerfile.render(name="trivia_quiz")


def test_the_generated_tests_pass_on_their_own(quiz: ScaffoldedEnvironment) -> None:
    """As `gymbox test-env` runs them in the image: pytest in the folder, no repository config, no asyncio."""
    env = {k: v for k, v in os.environ.items() if k != "GYMBOX_ENVIRONMENTS_DIR"}
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-p",
            "no:cacheprovider",
            "-p",
            "no:asyncio",
            "--import-mode=importlib",
            "-q",
            "tests",
        ],
        cwd=quiz.path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert " passed" in result.stdout
    assert "failed" not in result.stdout


def test_the_generated_code_is_ruff_clean(quiz: ScaffoldedEnvironment, tmp_path: Path) -> None:
    ruff = Path(sys.executable).parent / "ruff"
    if not ruff.is_file():
        pytest.skip("ruff is not installed in this environment (pip install -e '.[dev]')")
    long = scaffold_environment("long_names", [LONG_TOOL], tmp_path)
    assert f"    async def {LONG_TOOL}(\n" in (long.path / "app.py").read_text()  # wrapped to fit 120 columns
    result = subprocess.run(
        [
            str(ruff),
            "check",
            "--no-cache",
            "--config",
            str(ROOT / "pyproject.toml"),
            "--config",
            "lint.isort.known-first-party=['gymbox']",
            str(quiz.path),
            str(long.path),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_generated_environment_passes_mypy_strict_as_it_stands(quiz: ScaffoldedEnvironment, tmp_path: Path) -> None:
    """Checked as gymbox imports it (package `gymbox_env_<name>`), app, tests and all, as scripts/check.sh does."""
    long = scaffold_environment("long_names", [LONG_TOOL], tmp_path)
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "mypy_environments.py"), str(quiz.path), str(long.path)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Success: no issues found" in result.stdout


def test_data_validate_checks_the_example_rows_and_names_the_missing_splits(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = scaffold_environment("notes", ["lookup"], tmp_path / "envs")
    config = env.path / "configs" / "notes.yaml"
    monkeypatch.chdir(tmp_path)
    first = CliRunner().invoke(app, ["data", "validate", "-c", str(config)])
    assert first.exit_code == 1  # train and validation do not exist yet, and say so
    assert "0 problem(s) in the rows, 2 missing dataset file(s)" in str(first.exception)
    for split in ("train", "validation"):
        assert f"dataset file 'envs/notes/data/{split}.jsonl' not found" in first.output
    assert f"{config}:" in first.output  # file:line of each entry
    metrics = json.loads((env.path / "data" / "example_stats.json").read_text())
    assert (metrics["rows"], metrics["invalid_rows"]) == (5, 0)

    for split in ("train", "validation"):
        shutil.copy(env.path / "data" / "example.jsonl", env.path / "data" / f"{split}.jsonl")
    second = CliRunner().invoke(app, ["data", "validate", "-c", str(config)])
    assert second.exit_code == 0, second.output


def test_the_templates_are_package_data() -> None:
    from importlib.resources import files

    folder = files("gymbox") / "templates" / "environment"
    names = {"app.py.j2", "Dockerfile.j2", "requirements.txt.j2", "README.md.j2"}
    assert names <= {entry.name for entry in folder.iterdir()}
    assert (folder / "configs" / "config.yaml.j2").is_file()
    assert (folder / "tests" / "test_app.py.j2").is_file()

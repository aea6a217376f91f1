"""`gymbox data validate`: every bad row named by file:line and field, statistics written and diffed."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymbox.cli import app

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE = ROOT / "environments/example_single_tool_call/data/example.jsonl"
CONFIG = """\
weather:
  resources_servers:
    example_single_tool_call: {{}}
weather_agent:
  responses_api_agents:
    simple_agent:
      resources_server: {{type: resources_servers, name: weather}}
      model_server: {{type: responses_api_models, name: policy_model}}
      datasets:
        - name: example
          type: example
          jsonl_fpath: {path}
          license: Apache 2.0
"""
JSONL_FPATH_LINE = 12  # the line of `jsonl_fpath` in CONFIG


@pytest.fixture
def stack(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A config in tmp/conf/ whose dataset path is relative to the config file, run from tmp/."""
    monkeypatch.chdir(tmp_path)
    (tmp_path / "conf/data").mkdir(parents=True)
    shutil.copy(EXAMPLE, tmp_path / "conf/data/example.jsonl")
    config = tmp_path / "conf/stack.yaml"
    config.write_text(CONFIG.format(path="data/example.jsonl"))
    return config


def validate(config: Path, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["data", "validate", "-c", str(config), *extra])


def replace_line(path: Path, number: int, text: str) -> None:
    lines = path.read_text().splitlines()
    lines[number - 1] = text
    path.write_text("\n".join(lines) + "\n")


@pytest.mark.parametrize(
    ("corrupt", "message"),
    [
        (lambda row: json.dumps(row).replace('"tools":', '"tools"', 1), "not valid JSON: Expecting ':' delimiter"),
        (
            lambda row: json.dumps({**row, "responses_create_params": {"tools": []}}),
            "responses_create_params.input: Field required",
        ),
    ],
)
def test_a_corrupted_line_is_named_with_its_line_and_field(stack: Path, corrupt, message: str) -> None:  # type: ignore[no-untyped-def]
    data = stack.parent / "data/example.jsonl"
    row = json.loads(data.read_text().splitlines()[2])
    replace_line(data, 3, corrupt(row))
    result = validate(stack, "-m", "scripted")
    assert result.exit_code == 1
    assert f"{data}:3: {message}" in result.output
    assert "1 problem(s) in the rows" in str(result.exception)
    stats = json.loads((stack.parent / "data/example_stats.json").read_text())
    assert (stats["rows"], stats["invalid_rows"]) == (4, 1)


def test_every_invalid_row_is_reported_not_just_the_first(stack: Path) -> None:
    data = stack.parent / "data/example.jsonl"
    replace_line(data, 2, "{broken")
    replace_line(data, 4, json.dumps({"responses_create_params": {"input": 3}}))
    replace_line(data, 5, "[1, 2]")
    result = validate(stack)  # no -m: data commands do not need the policy model
    assert result.exit_code == 1
    assert f"{data}:2: not valid JSON" in result.output
    assert f"{data}:4: responses_create_params.input" in result.output
    assert f"{data}:5: a row must be a JSON object, got list" in result.output
    assert f"{data}:1:" not in result.output
    assert f"{data}:3:" not in result.output


def test_statistics_are_written_beside_the_data_and_a_change_is_shown(stack: Path) -> None:
    data = stack.parent / "data/example.jsonl"
    first = validate(stack)
    assert first.exit_code == 0, first.output
    metrics = stack.parent / "data/example_stats.json"
    assert f"statistics written to {metrics}" in first.output
    stats = json.loads(metrics.read_text())
    assert stats["rows"] == stats["unique_prompts"] == 5
    assert stats["invalid_rows"] == 0
    assert stats["tools_per_row"] == {"min": 1, "mean": 1.0, "max": 1}
    assert stats["input_messages_per_row"] == {"min": 1, "mean": 1.0, "max": 1}
    lengths = [
        len(json.loads(line)["responses_create_params"]["input"][0]["content"])
        for line in data.read_text().splitlines()
    ]
    assert stats["input_chars_per_row"] == {"min": min(lengths), "mean": sum(lengths) / 5, "max": max(lengths)}
    assert stats["params"] == {}
    assert stats["task_fields"] == {"id": 5}
    assert "changed" not in first.output

    assert "changed" not in validate(stack).output  # same data, same statistics: nothing to report

    rows = [json.loads(line) for line in data.read_text().splitlines()]
    rows[0]["responses_create_params"].update(temperature=0.2, max_output_tokens=256)
    rows[1]["responses_create_params"]["temperature"] = 1
    rows[2] = rows[1]  # a duplicate prompt (and a third row with a temperature)
    data.write_text("".join(json.dumps(row) + "\n" for row in rows[:4]))
    second = validate(stack)
    assert second.exit_code == 0, second.output
    assert f"statistics changed since {metrics} was last written:" in second.output
    for change in (
        "  rows: 5 -> 4",
        "  unique_prompts: 5 -> 3",
        "  task_fields.id: 5 -> 4",
        "  params.temperature.min: (absent) -> 0.2",
        "  params.temperature.max: (absent) -> 1",
        "  params.temperature.rows: (absent) -> 3",
        "  params.max_output_tokens.rows: (absent) -> 1",
    ):
        assert change in second.output
    assert "invalid_rows" not in second.output  # unchanged keys are not listed
    new = json.loads(metrics.read_text())
    assert new["params"] == {
        "max_output_tokens": {"rows": 1, "min": 256, "max": 256},
        "temperature": {"rows": 3, "min": 0.2, "max": 1},
    }
    assert "param temperature" in second.output  # and the table shows it


def test_a_missing_dataset_file_names_the_config_line(stack: Path) -> None:
    stack.write_text(CONFIG.format(path="data/nowhere.jsonl"))
    result = validate(stack)
    assert result.exit_code == 1
    assert (
        f"{stack}:{JSONL_FPATH_LINE}: weather_agent.responses_api_agents.simple_agent.datasets.0.jsonl_fpath: "
        "dataset file 'data/nowhere.jsonl' not found"
    ) in result.output


def test_paths_relative_to_the_current_directory_work_as_in_nemo_gym(stack: Path) -> None:
    stack.write_text(CONFIG.format(path="conf/data/example.jsonl"))  # relative to tmp/, the cwd
    result = validate(stack)
    assert result.exit_code == 0, result.output
    assert "statistics written to conf/data/example_stats.json" in result.output


def test_the_example_environments_validate(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Their paths are written from the repository root; validate them from elsewhere, on copies."""
    for env in sorted({config.parents[1] for config in ROOT.glob("environments/*/configs/*.yaml")}):
        copy = tmp_path / env.name
        shutil.copytree(env / "configs", copy / "environments" / env.name / "configs")
        shutil.copytree(env / "data", copy / "environments" / env.name / "data")
        monkeypatch.chdir(tmp_path)
        for config in sorted((env / "configs").glob("*.yaml")):  # math has two: one per math-verify build
            result = validate(copy / "environments" / env.name / "configs" / config.name)
            assert result.exit_code == 0, result.output
        assert (copy / "environments" / env.name / "data/example_stats.json").is_file()

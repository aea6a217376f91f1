"""`gymbox data prepare`: train/validation files stamped with agent_ref, reproducible byte for byte."""

from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

import pytest
from typer.testing import CliRunner

from gymbox.cli import app

ROOT = Path(__file__).resolve().parent.parent
CONFIG = """\
weather:
  resources_servers:
    example_single_tool_call: {}
notes:
  resources_servers:
    example_session_state_mgmt: {}
weather_agent:
  responses_api_agents:
    simple_agent:
      resources_server: {type: resources_servers, name: weather}
      model_server: {type: responses_api_models, name: policy_model}
      datasets:
        - {name: weather_train, type: train, jsonl_fpath: data/weather_train.jsonl, license: MIT}
        - {name: weather_val, type: validation, jsonl_fpath: data/weather_val.jsonl, license: MIT}
        - {name: example, type: example, jsonl_fpath: data/weather_example.jsonl, license: MIT}
notes_agent:
  responses_api_agents:
    simple_agent:
      resources_server: {type: resources_servers, name: notes}
      model_server: {type: responses_api_models, name: policy_model}
      datasets:
        - {name: notes_train, type: train, jsonl_fpath: data/notes_train.jsonl, license: MIT}
"""
SIZES = {"weather_train": 30, "weather_val": 5, "weather_example": 2, "notes_train": 20}


def task(name: str, i: int) -> dict:
    # Non-ASCII text and a pre-existing agent_ref, to pin serialization and the stamp overwriting it.
    return {
        "responses_create_params": {"input": [{"role": "user", "content": f"{name} question {i} — é"}]},
        "id": i,
        "agent_ref": {"type": "responses_api_agents", "name": "someone_else"},
    }


@pytest.fixture
def config(tmp_path: Path) -> Path:
    (tmp_path / "data").mkdir()
    for name, size in SIZES.items():
        (tmp_path / "data" / f"{name}.jsonl").write_text("".join(json.dumps(task(name, i)) + "\n" for i in range(size)))
    path = tmp_path / "stack.yaml"
    path.write_text(CONFIG)
    return path


def prepare(config: Path, out: Path, *extra: str):  # type: ignore[no-untyped-def]
    return CliRunner().invoke(app, ["data", "prepare", "-c", str(config), "--output", str(out), *extra])


def test_splits_are_collated_stamped_and_counted(config: Path, tmp_path: Path) -> None:
    result = prepare(config, tmp_path / "out")
    assert result.exit_code == 0, result.output
    train = [json.loads(line) for line in (tmp_path / "out/train.jsonl").read_text().splitlines()]
    val = [json.loads(line) for line in (tmp_path / "out/validation.jsonl").read_text().splitlines()]
    assert not (tmp_path / "out/example.jsonl").exists()
    assert Counter(row["agent_ref"]["name"] for row in train) == {"weather_agent": 30, "notes_agent": 20}
    # The serialization is pinned: source key order, agent_ref overwritten in place, UTF-8 text.
    assert (
        '{"responses_create_params": {"input": [{"role": "user", "content": "weather_val question 0 — é"}]}, '
        '"id": 0, "agent_ref": {"type": "responses_api_agents", "name": "weather_agent"}}'
    ) in (tmp_path / "out/validation.jsonl").read_text(encoding="utf-8").splitlines()
    assert [row["agent_ref"] for row in val] == [{"type": "responses_api_agents", "name": "weather_agent"}] * 5
    # Every row once, nothing else changed.
    contents = sorted(row["responses_create_params"]["input"][0]["content"] for row in train)
    assert contents == sorted(
        f"{n} question {i} — é" for n in ("weather_train", "notes_train") for i in range(SIZES[n])
    )
    # Shuffled: not in config order.
    assert [row["id"] for row in train[:30]] != list(range(30))
    assert "train: 50 rows" in result.output
    assert "validation: 5 rows" in result.output
    for agent, counts in (("weather_agent", "30 │          5"), ("notes_agent", "20 │          0")):
        assert any(agent in line and counts in line for line in result.output.splitlines()), result.output


def test_same_seed_same_bytes_other_seed_other_order(config: Path, tmp_path: Path) -> None:
    for name, seed in (("a", "7"), ("b", "7"), ("c", "8")):
        assert prepare(config, tmp_path / name, "--seed", seed).exit_code == 0
    for split in ("train.jsonl", "validation.jsonl"):
        assert (tmp_path / "a" / split).read_bytes() == (tmp_path / "b" / split).read_bytes()
    assert (tmp_path / "a/train.jsonl").read_bytes() != (tmp_path / "c/train.jsonl").read_bytes()
    assert sorted((tmp_path / "a/train.jsonl").read_text().splitlines()) == sorted(
        (tmp_path / "c/train.jsonl").read_text().splitlines()
    )
    # The default seed is 42.
    assert prepare(config, tmp_path / "d").exit_code == 0
    assert prepare(config, tmp_path / "e", "--seed", "42").exit_code == 0
    assert (tmp_path / "d/train.jsonl").read_bytes() == (tmp_path / "e/train.jsonl").read_bytes()


def test_an_invalid_row_is_an_error_and_nothing_is_written(config: Path, tmp_path: Path) -> None:
    bad = tmp_path / "data/notes_train.jsonl"
    lines = bad.read_text().splitlines()
    lines[6] = json.dumps({"responses_create_params": {"tools": []}})
    bad.write_text("\n".join(lines) + "\n")
    result = prepare(config, tmp_path / "out")
    assert result.exit_code == 1
    assert f"{bad}:7: responses_create_params.input: Field required" in str(result.exception)
    assert not (tmp_path / "out").exists()


def test_example_datasets_of_the_example_environments(tmp_path: Path) -> None:
    configs = sorted(ROOT.glob("environments/*/configs/*.yaml"))
    args = [arg for config in configs for arg in ("-c", str(config))]
    result = CliRunner().invoke(app, ["data", "prepare", *args, "--output", str(tmp_path), "--example"])
    assert result.exit_code == 0, result.output
    rows = [json.loads(line) for line in (tmp_path / "example.jsonl").read_text().splitlines()]
    agents = Counter(row["agent_ref"]["name"] for row in rows)
    assert agents == {f"{config.stem}_simple_agent": 5 for config in configs}


def test_a_config_without_train_data_says_what_to_do(tmp_path: Path) -> None:
    config = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
    result = CliRunner().invoke(app, ["data", "prepare", "-c", str(config), "--output", str(tmp_path / "out")])
    assert result.exit_code == 1
    assert "--example" in str(result.exception)
    assert not (tmp_path / "out").exists()

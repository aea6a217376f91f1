"""`gymbox data export`: which rollouts become SFT rows and DPO pairs, and their exact chat messages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from gymbox.cli import app

TOOL = {
    "type": "function",
    "name": "get_weather",
    "description": "Weather of a city.",
    "parameters": {"type": "object", "properties": {"city": {"type": "string"}}, "required": ["city"]},
    "strict": False,
}
CHAT_TOOL = {
    "type": "function",
    "function": {"name": "get_weather", "description": "Weather of a city.", "parameters": TOOL["parameters"]},
}
INPUT = [
    {"role": "developer", "content": "Answer briefly."},
    {
        "type": "message",
        "role": "user",
        "content": [{"type": "input_text", "text": "Weather in Paris "}, {"type": "input_text", "text": "and Lyon?"}],
    },
]
PROMPT = [
    {"role": "developer", "content": "Answer briefly."},
    {"role": "user", "content": "Weather in Paris and Lyon?"},
]


def answer(text: str) -> dict[str, Any]:
    return {
        "type": "message",
        "id": "msg_x",
        "role": "assistant",
        "status": "completed",
        "content": [{"type": "output_text", "text": text, "annotations": []}],
    }


def tool_calling_output(tag: str) -> list[dict[str, Any]]:
    """Reasoning, two calls in one turn, their outputs, reasoning again, the answer."""
    return [
        {"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "I need the weather."}]},
        {
            "type": "function_call",
            "id": "fc_1",
            "call_id": "call_1",
            "name": "get_weather",
            "arguments": '{"city": "Paris"}',
            "status": "completed",
        },
        {
            "type": "function_call",
            "id": "fc_2",
            "call_id": "call_2",
            "name": "get_weather",
            "arguments": '{"city": "Lyon"}',
            "status": "completed",
        },
        {"type": "function_call_output", "call_id": "call_1", "output": '{"weather": "sunny"}'},
        {"type": "function_call_output", "call_id": "call_2", "output": '{"weather": "rain"}'},
        {"type": "reasoning", "id": "rs_2", "summary": [{"type": "summary_text", "text": "Both known."}]},
        answer(f"Sunny in Paris, rain in Lyon. ({tag})"),
    ]


def tool_calling_messages(tag: str) -> list[dict[str, Any]]:
    """What `tool_calling_output(tag)` must become: one assistant turn holding both calls."""
    return [
        {
            "role": "assistant",
            "content": "",
            "reasoning_content": "I need the weather.",
            "tool_calls": [
                {
                    "id": "call_1",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Paris"}'},
                },
                {
                    "id": "call_2",
                    "type": "function",
                    "function": {"name": "get_weather", "arguments": '{"city": "Lyon"}'},
                },
            ],
        },
        {"role": "tool", "tool_call_id": "call_1", "content": '{"weather": "sunny"}'},
        {"role": "tool", "tool_call_id": "call_2", "content": '{"weather": "rain"}'},
        {"role": "assistant", "content": f"Sunny in Paris, rain in Lyon. ({tag})", "reasoning_content": "Both known."},
    ]


def rollout(
    task: int,
    repeat: int,
    reward: float,
    *,
    status: str = "ok",
    key: bool = True,
    output: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    row: dict[str, Any] = {
        "responses_create_params": {"input": INPUT, "tools": [TOOL]},
        "id": task,
        "response": {"id": "resp", "object": "response", "output": output or [answer(f"t{task}r{repeat}")]},
        "reward": reward,
        "_ng_task_index": task,
        "_ng_rollout_index": repeat,
        "agent_ref": {"name": "weather_agent"},
        "status": status,
    }
    if key:  # task 3 has no gymbox metadata: grouped by _ng_task_index
        row["gymbox"] = {"task_key": f"hash{task}.0", "line": task + 1, "attempts": 1}
    return row


@pytest.fixture
def rollouts(tmp_path: Path) -> Path:
    """Four tasks, written in finishing order (not by repeat), with known rewards.

    task 0: 0.0, 1.0, 1.0 (a tie at the top: repeat 1 wins, though repeat 2 comes first in the file)
            (repeats 1 and 2 both call tools; their answers say which one won)
    task 1: 0.5, 0.5, 0.25, and a model_error with 1.0
    task 2: 0.0, 0.0, 0.0
    task 3: 1.0, 1.0 (no gymbox.task_key)
    """
    rows = [
        rollout(0, 2, 1.0, output=tool_calling_output("t0r2")),
        rollout(1, 1, 0.5),
        rollout(0, 0, 0.0),
        rollout(2, 0, 0.0),
        rollout(1, 3, 1.0, status="model_error"),
        rollout(0, 1, 1.0, output=tool_calling_output("t0r1")),
        rollout(1, 0, 0.5),
        rollout(2, 1, 0.0),
        rollout(3, 1, 1.0, key=False),
        rollout(1, 2, 0.25),
        rollout(2, 2, 0.0),
        rollout(3, 0, 1.0, key=False),
    ]
    path = tmp_path / "rollouts.jsonl"
    path.write_text("".join(json.dumps(row) + "\n" for row in rows) + '{"torn": ')
    return path


def export(rollouts: Path, fmt: str, *extra: str) -> tuple[list[dict[str, Any]], str]:
    out = rollouts.parent / f"{fmt}.jsonl"
    result = CliRunner().invoke(app, ["data", "export", str(rollouts), "--format", fmt, "--output", str(out), *extra])
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in out.read_text().splitlines()], result.output


def final_text(messages: list[dict[str, Any]]) -> str:
    return messages[-1]["content"]


def test_sft_keeps_the_best_rollout_of_each_task_that_reaches_the_threshold(rollouts: Path) -> None:
    rows, output = export(rollouts, "sft")
    # task 0: the tie at 1.0 goes to repeat 1; task 1 (best 0.5) and task 2 (zeros) stay out; task 3: repeat 0.
    assert [final_text(row["messages"]) for row in rows] == ["Sunny in Paris, rain in Lyon. (t0r1)", "t3r0"]
    assert rows[0] == {"messages": [*PROMPT, *tool_calling_messages("t0r1")], "tools": [CHAT_TOOL]}
    assert rows[1] == {"messages": [*PROMPT, {"role": "assistant", "content": "t3r0"}], "tools": [CHAT_TOOL]}
    assert "2 sft rows from 4 tasks" in output
    assert "rollouts skipped: status model_error" in output
    assert "rollouts skipped: not JSON" in output


def test_sft_threshold_and_model_errors_on_request(rollouts: Path) -> None:
    rows, _ = export(rollouts, "sft", "--min-reward", "0.5")
    assert [final_text(row["messages"]) for row in rows] == [
        "Sunny in Paris, rain in Lyon. (t0r1)",
        "t1r0",
        "t3r0",
    ]  # task 1: 0.5 tie -> repeat 0
    rows, _ = export(rollouts, "sft", "--include-model-errors")
    assert [final_text(row["messages"]) for row in rows] == ["Sunny in Paris, rain in Lyon. (t0r1)", "t1r3", "t3r0"]


def test_dpo_pairs_the_best_and_the_worst_rollout_and_skips_ties(rollouts: Path) -> None:
    rows, output = export(rollouts, "dpo")
    # task 0: 1.0 (repeat 1) over 0.0; task 1: 0.5 (repeat 0) over 0.25; tasks 2 and 3: all equal.
    assert [
        (final_text(r["chosen"]), final_text(r["rejected"]), r["chosen_reward"], r["rejected_reward"]) for r in rows
    ] == [("Sunny in Paris, rain in Lyon. (t0r1)", "t0r0", 1.0, 0.0), ("t1r0", "t1r2", 0.5, 0.25)]
    first = rows[0]
    assert set(first) == {"prompt", "chosen", "rejected", "chosen_reward", "rejected_reward", "tools"}
    assert first["prompt"] == PROMPT
    assert first["chosen"] == tool_calling_messages("t0r1")
    assert first["rejected"] == [{"role": "assistant", "content": "t0r0"}]
    assert first["tools"] == [CHAT_TOOL]
    assert "tasks without a row: all rewards equal" in output
    rows, _ = export(rollouts, "dpo", "--min-reward", "1")
    assert [r["chosen_reward"] for r in rows] == [1.0]


def test_an_unconvertible_rollout_is_an_error_naming_its_line(tmp_path: Path) -> None:
    path = tmp_path / "rollouts.jsonl"
    image = {"role": "user", "content": [{"type": "input_image", "image_url": "data:image/png;base64,AA"}]}
    row = rollout(0, 0, 1.0)
    row["responses_create_params"]["input"] = [image]
    path.write_text(json.dumps(rollout(1, 0, 0.0)) + "\n" + json.dumps(row) + "\n")
    result = CliRunner().invoke(app, ["data", "export", str(path), "-f", "sft", "-o", str(tmp_path / "out.jsonl")])
    assert result.exit_code == 1
    assert f"{path}:2: responses_create_params.input[0]: content part 'input_image' is not text" in str(
        result.exception
    )
    assert not (tmp_path / "out.jsonl").exists()

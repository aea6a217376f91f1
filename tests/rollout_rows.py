"""Rollout rows shaped as `gymbox rollout` writes them, for tests of what reads rollouts files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any


def rollout_row(
    task: int,
    repeat: int,
    reward: float,
    *,
    agent: str = "weather_simple_agent",
    environment: str = "weather",
    prompt: str | None = None,
    status: str = "ok",
    latency_s: float = 0.5,
    **extras: Any,
) -> dict[str, Any]:
    call_id = f"call_{task}_{repeat}"
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": prompt or f"What is the weather in city {task}?"}]
        },
        "response": {
            "output": [
                {"type": "reasoning", "summary": [{"type": "summary_text", "text": "I should look it up."}]},
                {"type": "function_call", "name": "get_weather", "call_id": call_id, "arguments": '{"city": "C"}'},
                {"type": "function_call_output", "call_id": call_id, "output": '{"weather": "cold"}'},
                {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "It is cold."}]},
            ],
            "model": "policy",
        },
        "id": task,
        "reward": reward,
        **extras,
        "status": status,
        "_ng_task_index": task,
        "_ng_rollout_index": repeat,
        "agent_ref": {"name": agent},
        "gymbox": {
            "task_key": f"key{task}.0",
            "task_fields": ["id", "responses_create_params"],
            "latency_s": latency_s,
            "started_at": 1000.0 + task,
            "images": {environment: f"gymbox/env-{environment}:abc", agent: "gymbox/runtime:abc"},
        },
    }


def failure_row(task: int, repeat: int, status: str = "infra_error", agent: str = "weather_simple_agent") -> dict:
    return {
        "_ng_task_index": task,
        "_ng_rollout_index": repeat,
        "agent_ref": {"name": agent},
        "status": status,
        "error": "agent http://x answered 502",
        "gymbox": {"task_key": f"key{task}.0", "latency_s": 3.0},
    }


def write_jsonl(path: Path, rows: list[dict[str, Any]]) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    return path

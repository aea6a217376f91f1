"""A rollout row as a page shows it: the conversation turn by turn, then what the verifier said.

Unlike the training-data conversion (`gymbox.data.chat`), this never refuses an item: a page must show
whatever a rollout holds, so an unknown item type is shown as its JSON rather than being an error.
Each tool call is paired with its output by `call_id`.
"""

from __future__ import annotations

import json
from typing import Any

from gymbox.collector.profile import as_dict, content_text

# Fields of a rollout row that are neither the task's own fields nor something the verifier returned.
_ROW_FIELDS = {"responses_create_params", "response", "reward", "status", "agent_ref", "gymbox", "error", "line"}


def conversation(row: dict[str, Any]) -> dict[str, Any]:
    """{turns: [...], verify: {...}, task: {...}, meta: {...}} for one rollout row."""
    params = as_dict(row.get("responses_create_params"))
    response = as_dict(row.get("response"))
    turns = _prompt_turns(params) + _output_turns(response.get("output"))
    meta = as_dict(row.get("gymbox"))
    task_fields = set(meta.get("task_fields", ()))
    return {
        "turns": turns,
        "verify": {
            "reward": row.get("reward"),
            "status": row.get("status", "ok"),
            "error": row.get("error"),
            "extras": {
                key: value
                for key, value in row.items()
                if key not in _ROW_FIELDS and key not in task_fields and not key.startswith("_ng_")
            },
        },
        "task": {key: row[key] for key in sorted(task_fields) if key in row and key != "responses_create_params"},
        "tools": [tool.get("name") for tool in params.get("tools") or () if isinstance(tool, dict)],
        "model": response.get("model"),
        "usage": response.get("usage"),
        "meta": {
            "task_index": row.get("_ng_task_index"),
            "repeat": row.get("_ng_rollout_index"),
            "agent": as_dict(row.get("agent_ref")).get("name"),
            **{key: meta[key] for key in ("task_key", "attempts", "latency_s", "started_at", "stack") if key in meta},
        },
    }


def _prompt_turns(params: dict[str, Any]) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    if isinstance(params.get("instructions"), str) and params["instructions"]:
        turns.append({"kind": "message", "role": "system", "text": params["instructions"]})
    items = params.get("input")
    if isinstance(items, str):
        return [*turns, {"kind": "message", "role": "user", "text": items}]
    return turns + _output_turns(items)


def _output_turns(items: Any) -> list[dict[str, Any]]:
    turns: list[dict[str, Any]] = []
    calls: dict[str, dict[str, Any]] = {}
    for item in items if isinstance(items, list) else ():
        if not isinstance(item, dict):
            turns.append({"kind": "other", "text": json.dumps(item)})
            continue
        kind = item.get("type", "message" if "role" in item else None)
        if kind == "message":
            turns.append({"kind": "message", "role": str(item.get("role", "assistant")), "text": _text(item)})
        elif kind == "reasoning":
            parts = [*(item.get("summary") or ()), *(item.get("content") or ())]
            turns.append({"kind": "reasoning", "text": "\n".join(str(p.get("text", "")) for p in parts)})
        elif kind == "function_call":
            call = {
                "kind": "tool_call",
                "name": item.get("name"),
                "call_id": item.get("call_id"),
                "arguments": _maybe_json(item.get("arguments")),
                "output": None,
            }
            calls[str(item.get("call_id"))] = call
            turns.append(call)
        elif kind == "function_call_output":
            called = calls.get(str(item.get("call_id")))
            if called is not None and called["output"] is None:
                called["output"] = _maybe_json(item.get("output"))
            else:
                turns.append({"kind": "tool_output", "call_id": item.get("call_id"), "output": item.get("output")})
        else:
            turns.append({"kind": "other", "text": json.dumps(item, indent=1)})
    return turns


def _text(item: dict[str, Any]) -> str:
    return content_text(item.get("content"))


def _maybe_json(value: Any) -> Any:
    """A JSON string (tool arguments and outputs are strings on the wire) as its value, for display."""
    if isinstance(value, str):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value

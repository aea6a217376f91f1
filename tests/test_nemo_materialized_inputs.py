"""`gymbox rollout` writes `<out>_materialized_inputs.jsonl`, which NeMo Gym's reward profiling reads."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

from fastapi import FastAPI

from gymbox.collector.runner import CollectOptions, Collector
from gymbox.testing import serve_app


def _agent() -> FastAPI:
    """An agent double that verifies every row at reward 1."""
    app = FastAPI()

    @app.post("/run")
    async def run(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "response": {"output": []}, "reward": 1.0}

    return app


def test_every_task_and_repeat_is_listed_as_sent(tmp_path: Path) -> None:
    rows = [{"responses_create_params": {"input": f"task {i}"}, "id": i} for i in range(2)]
    source = tmp_path / "in.jsonl"
    source.write_text("".join(json.dumps(r) + "\n" for r in rows))
    out = tmp_path / "out.jsonl"

    with serve_app(_agent()) as url:
        asyncio.run(Collector({"agent": [url]}, out, CollectOptions(agent="agent", repeats=2)).run(source))
        # A resumed run lists the whole input again, not only what it still had to do.
        asyncio.run(Collector({"agent": [url]}, out, CollectOptions(agent="agent", repeats=2, resume=True)).run(source))

    listed = [json.loads(line) for line in (tmp_path / "out_materialized_inputs.jsonl").read_text().splitlines()]
    assert [(r["id"], r["_ng_task_index"], r["_ng_rollout_index"]) for r in listed] == [
        (0, 0, 0),
        (0, 0, 1),
        (1, 1, 0),
        (1, 1, 1),
    ]
    assert all(r["agent_ref"] == {"name": "agent"} for r in listed)
    assert listed[0]["responses_create_params"] == {"input": "task 0"}

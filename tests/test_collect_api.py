"""`gymbox.collect`: the collector as an async iterator, against an in-process stack (real uvicorn servers
on 127.0.0.1, the scripted model)."""

import asyncio
import json
from collections.abc import Iterator
from contextlib import aclosing
from pathlib import Path

import pytest

import gymbox
from gymbox.config import load_config
from gymbox.testing import running_stack

TOY_CONFIG = Path(__file__).parent / "fixtures" / "toy.yaml"
TOOLS = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in ("write", "crash")]


def task(i: int, *, crash: bool = False) -> dict:
    calls = [{"name": "crash" if crash else "write", "arguments": {} if crash else {"text": f"t{i}"}}]
    script = [{"calls": calls}, {"say": "done"}]
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": f"task {i}"}],
            "tools": TOOLS,
            "metadata": {"gymbox_script": json.dumps(script)},
        },
        "target": f"t{i}",
    }


@pytest.fixture(scope="module")
def agent_url(module_toy_environments: Path) -> Iterator[str]:
    with running_stack(load_config([TOY_CONFIG], model="scripted", assign_ports=False)) as urls:
        yield urls["toy_agent"]


async def test_rollouts_come_as_they_finish_scored_or_failed(agent_url: str, tmp_path: Path) -> None:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(json.dumps(r) + "\n" for r in [task(0), task(1, crash=True), task(2)]))
    got = [r async for r in gymbox.collect(rows, urls=[agent_url], repeats=2, max_attempts=2)]
    assert sorted((r.task_index, r.repeat) for r in got) == [(t, k) for t in range(3) for k in range(2)]
    scored = [r for r in got if r.scored]
    assert {(r.status, r.reward) for r in scored} == {(gymbox.RolloutStatus.OK, 1.0)}
    assert all(r.record["gymbox"]["attempts"] == 1 for r in scored)
    failed = [r for r in got if not r.scored]
    assert {r.task_index for r in failed} == {1}
    assert {(r.status, r.failure, r.reward) for r in failed} == {
        (gymbox.RolloutStatus.INFRA_ERROR, gymbox.FailureKind.SERVER_ERROR, None)
    }
    assert all("crash" in r.record["error"] for r in failed)


async def test_rows_from_python_with_an_output_file_and_resume(agent_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    first = [r async for r in gymbox.collect([task(0), task(1)], urls=[agent_url], output=out)]
    assert len(first) == 2
    assert len(out.read_text().splitlines()) == 2
    again = [r async for r in gymbox.collect([task(0), task(1), task(2)], urls=[agent_url], output=out, resume=True)]
    assert [(r.task_index, r.reward) for r in again] == [(2, 1.0)]  # only the pair not yet in the file
    assert len(out.read_text().splitlines()) == 3


async def test_invalid_rows_are_skipped_and_logged(agent_url: str, caplog: pytest.LogCaptureFixture) -> None:
    got = [r async for r in gymbox.collect([{"target": "x"}, task(0)], urls=[agent_url])]
    assert [r.task_index for r in got] == [0]
    assert "row rejected: <rows>:1: responses_create_params: Field required" in caplog.text


async def test_leaving_the_loop_early_stops_the_collection(agent_url: str, tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    rollouts = gymbox.collect([task(i) for i in range(50)], urls=[agent_url], output=out, concurrency=2)
    async with aclosing(rollouts):
        async for _ in rollouts:
            break
    written = len(out.read_text().splitlines())
    assert written < 50
    await asyncio.sleep(0.3)
    assert len(out.read_text().splitlines()) == written  # nothing runs on behind the caller's back


async def test_it_needs_somewhere_to_send_rows() -> None:
    with pytest.raises(gymbox.GymboxError, match="stack='name'"):
        [r async for r in gymbox.collect([task(0)])]

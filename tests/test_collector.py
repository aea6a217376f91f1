"""The collector against an in-process stack (real uvicorn servers on 127.0.0.1, the scripted model)."""

import asyncio
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.responses import JSONResponse

from gymbox.collector.metrics import compute_metrics, pass_at_k
from gymbox.collector.runner import CollectOptions, Collector
from gymbox.collector.store import repair_torn_tail
from gymbox.config import load_config
from gymbox.errors import GymboxError
from gymbox.testing import bound_socket, running_stack, serve_app

TOY_CONFIG = Path(__file__).parent / "fixtures" / "toy.yaml"
TOOLS = [{"type": "function", "name": n, "parameters": {"type": "object"}} for n in ("write", "nap", "crash")]


def task(i: int, *, hit: bool = True, nap: float = 0.0, crash: bool = False) -> dict:
    calls = [{"name": "write", "arguments": {"text": f"t{i}" if hit else "miss"}}]
    if nap:
        calls.append({"name": "nap", "arguments": {"seconds": nap}})
    if crash:
        calls = [{"name": "crash", "arguments": {}}]
    script = [{"calls": calls}, {"say": "done"}]
    return {
        "responses_create_params": {
            "input": [{"role": "user", "content": f"task {i}"}],
            "tools": TOOLS,
            "metadata": {"gymbox_script": json.dumps(script)},
        },
        "target": f"t{i}",
        "id": i,
    }


def write_rows(path: Path, rows: list) -> Path:
    path.write_text("".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in rows))
    return path


@pytest.fixture(scope="module")
def agent_url(module_toy_environments: Path) -> Iterator[str]:
    with running_stack(load_config([TOY_CONFIG], model="scripted", assign_ports=False)) as urls:
        yield urls["toy_agent"]


def collect(url: str, rows: Path, out: Path, **options: object) -> object:
    opts = CollectOptions(agent="toy_agent", **options)  # type: ignore[arg-type]
    return asyncio.run(Collector({"toy_agent": [url]}, out, opts).run(rows))


def read(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []


def test_rows_times_repeats_with_nemo_gym_keys_and_metrics(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0), task(1, hit=False), task(2)])
    out = tmp_path / "out.jsonl"
    summary = collect(agent_url, rows, out, repeats=4, concurrency=5)
    got = read(out)
    assert summary.written == 12
    assert sorted((r["_ng_task_index"], r["_ng_rollout_index"]) for r in got) == [
        (t, k) for t in range(3) for k in range(4)
    ]
    assert {r["agent_ref"]["name"] for r in got} == {"toy_agent"}
    assert {r["status"] for r in got} == {"ok"}
    assert all(r["gymbox"]["attempts"] == 1 and r["gymbox"]["url"] == agent_url for r in got)
    assert {r["_ng_task_index"]: r["reward"] for r in got} == {0: 1.0, 1: 0.0, 2: 1.0}
    metrics = compute_metrics(out)
    assert metrics["rollouts"] == 12
    assert metrics["mean_reward"] == pytest.approx(2 / 3)
    assert metrics["pass@4"] == pytest.approx(2 / 3)
    assert metrics["mean@4"] == pytest.approx(2 / 3)
    assert metrics["extra_means"] == {"notes_written": 1.0}  # verifier fields only, not the row's `id`
    assert metrics["failures"] == {}


def test_bad_lines_are_rejected_with_their_line_and_the_rest_is_collected(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0), "{not json", json.dumps({"target": "x"}), "[1, 2]", task(1)])
    out = tmp_path / "out.jsonl"
    summary = collect(agent_url, rows, out)
    assert summary.written == 2
    rejects = read(tmp_path / "out_rejects.jsonl")
    assert [r["line"] for r in rejects] == [2, 3, 4]
    assert "not valid JSON" in rejects[0]["error"]
    assert "responses_create_params: Field required" in rejects[1]["error"]
    assert "JSON object" in rejects[2]["error"]
    with pytest.raises(GymboxError, match=r"in.jsonl:2: not valid JSON"):
        collect(agent_url, rows, tmp_path / "strict.jsonl", strict=True)


def test_a_row_the_environment_rejects_goes_to_rejects_not_retried(agent_url: str, tmp_path: Path) -> None:
    bad = task(0)
    del bad["target"]
    rows = write_rows(tmp_path / "in.jsonl", [bad, task(1)])
    out = tmp_path / "out.jsonl"
    summary = collect(agent_url, rows, out, max_attempts=3)
    assert (summary.written, summary.rejected, summary.failed) == (1, 1, 0)
    assert "target: Field required" in read(tmp_path / "out_rejects.jsonl")[0]["error"]


def test_infra_failures_are_retried_then_recorded_not_scored(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0), task(1, crash=True)])
    out = tmp_path / "out.jsonl"
    summary = collect(agent_url, rows, out, repeats=2, max_attempts=2)
    assert (summary.written, summary.failed) == (2, 2)
    failures = read(tmp_path / "out_failures.jsonl")
    assert {(f["_ng_task_index"], f["_ng_rollout_index"]) for f in failures} == {(1, 0), (1, 1)}
    assert all(f["status"] == "infra_error" and "crash" in f["error"] for f in failures)
    metrics = compute_metrics(out)
    assert metrics["mean_reward"] == 1.0  # the failures are not zeros
    assert metrics["failures"] == {"infra_error": 2}


def test_a_slow_agent_times_out_and_is_recorded(tmp_path: Path) -> None:
    slow = FastAPI()

    @slow.post("/run")
    async def run() -> dict:
        await asyncio.sleep(5)
        return {}

    rows = write_rows(tmp_path / "in.jsonl", [task(0)])
    with serve_app(slow) as url:
        summary = collect(url, rows, tmp_path / "out.jsonl", timeout_s=0.3, max_attempts=2)
    assert summary.failed == 1
    assert read(tmp_path / "out_failures.jsonl")[0]["status"] == "timeout"


def test_rollouts_start_while_the_input_is_still_being_read(tmp_path: Path) -> None:
    # With more rollouts allowed in flight than rows, the queue never fills: the producer must still hand
    # each row over at once, or the whole input is read before the first request leaves.
    requests_at: list[float] = []
    agent = FastAPI()

    @agent.post("/run")
    async def run(row: dict) -> dict:
        requests_at.append(time.monotonic())
        return {**row, "reward": 1.0, "status": "ok"}

    last_row_read = 0.0

    def rows() -> Iterator[dict]:  # a slow input: a big file on a slow disk, a generator that builds rows
        nonlocal last_row_read
        for i in range(100):
            time.sleep(0.005)
            last_row_read = time.monotonic()
            yield task(i)

    with serve_app(agent) as url:
        opts = CollectOptions(agent="toy_agent", concurrency=256)
        summary = asyncio.run(Collector({"toy_agent": [url]}, tmp_path / "out.jsonl", opts).run(rows()))
    assert summary.written == 100
    assert min(requests_at) < last_row_read - 0.2  # 100 rows take 0.5 s to read


def test_output_is_never_overwritten_without_resume(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0)])
    out = tmp_path / "out.jsonl"
    collect(agent_url, rows, out)
    with pytest.raises(GymboxError, match="--resume"):
        collect(agent_url, rows, out)


def test_resume_drops_a_torn_line_and_keys_by_content_not_order(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(i) for i in range(4)])
    out = tmp_path / "out.jsonl"
    collect(agent_url, rows, out, limit=2, repeats=2)
    with out.open("a") as handle:
        handle.write('{"torn": tr')  # a crash mid-write
    # the user inserts a new row at the top: old rows shift down one line
    write_rows(rows, [task(9), *[task(i) for i in range(4)]])
    summary = collect(agent_url, rows, out, repeats=2, resume=True)
    assert summary.skipped == 4
    got = read(out)
    targets = sorted((r["target"], r["_ng_rollout_index"]) for r in got)
    assert targets == sorted((f"t{i}", k) for i in (9, 0, 1, 2, 3) for k in range(2))


def test_identical_rows_are_distinct_tasks(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0), task(0)])
    out = tmp_path / "out.jsonl"
    assert collect(agent_url, rows, out).written == 2
    assert collect(agent_url, rows, out, resume=True).skipped == 2


def test_torn_tail_repair(tmp_path: Path) -> None:
    path = tmp_path / "x.jsonl"
    path.write_text('{"a": 1}\n{"b": 2}\n')
    assert not repair_torn_tail(path)
    path.write_text('{"a": 1}\n{"b": 2')
    assert repair_torn_tail(path)
    assert path.read_text() == '{"a": 1}\n'


def test_pass_at_k_estimator() -> None:
    assert pass_at_k(4, 0, 1) == 0.0
    assert pass_at_k(4, 4, 1) == 1.0
    assert pass_at_k(4, 1, 1) == pytest.approx(0.25)
    assert pass_at_k(4, 1, 4) == 1.0
    assert pass_at_k(4, 2, 2) == pytest.approx(1 - 1 / 6)


def test_killed_collector_resumes_with_no_row_lost_or_duplicated(agent_url: str, tmp_path: Path) -> None:
    n_rows, repeats = 30, 2
    rows = write_rows(tmp_path / "in.jsonl", [task(i, nap=0.05) for i in range(n_rows)])
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "gymbox.cli",
        "rollout",
        "-i",
        str(rows),
        "-o",
        str(out),
        "--url",
        agent_url,
        "-k",
        str(repeats),
        "-j",
        "2",
    ]
    env = {**os.environ, "COLUMNS": "120"}
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 30
    while (not out.exists() or len(out.read_text().splitlines()) < 5) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)
    partial = len(read(out)) if out.exists() else 0
    assert 0 < partial < n_rows * repeats
    done = subprocess.run([*cmd, "--resume"], capture_output=True, text=True, env=env, timeout=120)
    assert done.returncode == 0, done.stderr
    pairs = [(r["_ng_task_index"], r["_ng_rollout_index"]) for r in read(out)]
    assert len(pairs) == len(set(pairs)) == n_rows * repeats


def test_hostile_lines_become_rejects_with_file_line_and_reason(agent_url: str, tmp_path: Path) -> None:
    rows = tmp_path / "in.jsonl"
    rows.write_bytes(
        b"[" * 10_000
        + b"]" * 10_000
        + b"\n"  # RecursionError in json
        + b'{"responses_create_params": {"input": "caf\xe9"}}\n'  # Latin-1, not UTF-8
        + b'{"responses_create_params": {"input": "\\ud800"}, "target": "x"}\n'  # a lone surrogate escape
        + json.dumps(task(0)).encode()
        + b"\n"
    )
    out = tmp_path / "out.jsonl"
    summary = collect(agent_url, rows, out)
    assert (summary.written, summary.rejected) == (1, 3)
    rejects = read(tmp_path / "out_rejects.jsonl")
    assert [(r["file"], r["line"]) for r in rejects] == [(str(rows), 1), (str(rows), 2), (str(rows), 3)]
    assert "nested too deeply" in rejects[0]["error"]
    assert "not valid UTF-8: byte 0xe9" in rejects[1]["error"]
    assert "\\ud800" in rejects[2]["error"]
    assert "lone surrogate" in rejects[2]["error"]
    assert read(out)[0]["reward"] == 1.0


def test_a_directory_as_input_is_a_clean_error(agent_url: str, tmp_path: Path) -> None:
    with pytest.raises(GymboxError, match="is a directory; pass a JSONL file"):
        collect(agent_url, tmp_path, tmp_path / "out.jsonl")
    assert not (tmp_path / "out.jsonl").exists()


def test_a_torn_failures_tail_does_not_swallow_the_next_record(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0, crash=True)])
    failures = tmp_path / "out_failures.jsonl"
    failures.write_text('{"status": "infra_error", "error": "earlier"}\n{"status": "infra_err')  # a crash mid-write
    collect(agent_url, rows, tmp_path / "out.jsonl", max_attempts=1)
    records = read(failures)  # every line parses
    assert [r.get("failure") for r in records] == [None, "server_error"]
    assert records[0]["error"] == "earlier"


def test_resume_drops_failures_of_pairs_that_now_succeeded(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(0), task(1)])
    out = tmp_path / "out.jsonl"
    closed = bound_socket()  # the agent is down for the first run
    summary = asyncio.run(
        Collector(
            {"toy_agent": [f"http://127.0.0.1:{closed.getsockname()[1]}"]},
            out,
            CollectOptions(agent="toy_agent", max_attempts=1, repeats=2),
        ).run(rows)
    )
    closed.close()
    assert summary.failed == 4
    assert {f["failure"] for f in read(tmp_path / "out_failures.jsonl")} == {"unreachable"}
    summary = collect(agent_url, rows, out, resume=True, repeats=2)
    assert summary.written == 4
    assert read(tmp_path / "out_failures.jsonl") == []
    assert compute_metrics(out)["failures"] == {}


def test_throughput_after_a_resume_counts_this_run_only(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(i) for i in range(6)])
    out = tmp_path / "out.jsonl"
    collect(agent_url, rows, out, limit=4)
    summary = collect(agent_url, rows, out, resume=True)
    assert (summary.written, summary.skipped) == (2, 4)
    metrics = compute_metrics(out, elapsed_s=4.0)
    assert metrics["rollouts"] == 6
    assert metrics["throughput_rollouts_per_s"] == pytest.approx(2 / 4.0)  # 2 rollouts in this run's 4 s
    assert len({r["gymbox"]["run"] for r in read(out)}) == 2


def test_an_agent_that_moved_is_found_again(agent_url: str, tmp_path: Path) -> None:
    """An agent restarted on a new port: the old URL refuses, the collector asks where it went."""
    rows = write_rows(tmp_path / "in.jsonl", [task(i) for i in range(6)])
    out = tmp_path / "out.jsonl"
    old = bound_socket()
    looked_up = []

    def where_now() -> dict[str, list[str]]:
        looked_up.append(True)
        return {"toy_agent": [agent_url]}

    collector = Collector(
        {"toy_agent": [f"http://127.0.0.1:{old.getsockname()[1]}"]},
        out,
        CollectOptions(agent="toy_agent", concurrency=3),
        rediscover=where_now,
    )
    summary = asyncio.run(collector.run(rows))
    old.close()
    assert (summary.written, summary.failed) == (6, 0)
    assert {r["gymbox"]["url"] for r in read(out)} == {agent_url}
    assert 1 <= len(looked_up) <= 2  # once per interval, not once per failed rollout


def test_a_dead_replica_is_taken_out_of_rotation(agent_url: str, tmp_path: Path) -> None:
    """Of two replicas, one drops every connection attempt (a stopped container): nothing stalls on it."""
    listener = bound_socket()
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = [socket.socket() for _ in range(3)]
    for filler in fillers:
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
    rows = write_rows(tmp_path / "in.jsonl", [task(i) for i in range(20)])
    out = tmp_path / "out.jsonl"
    options = CollectOptions(agent="toy_agent", concurrency=4, connect_timeout_s=0.5, timeout_s=60)
    try:
        summary = asyncio.run(Collector({"toy_agent": [f"http://127.0.0.1:{port}", agent_url]}, out, options).run(rows))
    finally:
        for sock in [*fillers, listener]:
            sock.close()
    assert (summary.written, summary.failed) == (20, 0)
    got = read(out)
    assert {r["gymbox"]["url"] for r in got} == {agent_url}
    assert any(r["gymbox"]["attempts"] > 1 for r in got)  # the first ones tried it, then it was out


def test_a_lost_session_is_retried_as_a_new_episode_and_never_scored(tmp_path: Path) -> None:
    calls: dict[int, int] = {}
    agent = FastAPI()

    @agent.post("/run")
    async def run(row: dict) -> JSONResponse:  # a test double of an agent whose environment restarted
        calls[row["id"]] = calls.get(row["id"], 0) + 1
        if row["id"] == 1 or calls[row["id"]] == 1:
            detail = {"kind": "infra_error", "failure": "session_lost"}
            return JSONResponse({"error": "toy: unknown or expired session", "detail": detail}, status_code=502)
        return JSONResponse({**row, "reward": 1.0, "status": "ok"})

    rows = write_rows(tmp_path / "in.jsonl", [task(0), task(1)])
    with serve_app(agent) as url:
        summary = collect(url, rows, tmp_path / "out.jsonl", max_attempts=3)
    assert (summary.written, summary.failed) == (1, 1)
    [scored] = read(tmp_path / "out.jsonl")
    assert (scored["id"], scored["reward"], scored["gymbox"]["attempts"]) == (0, 1.0, 2)
    [failed] = read(tmp_path / "out_failures.jsonl")
    assert (failed["_ng_task_index"], failed["status"], failed["failure"]) == (1, "infra_error", "session_lost")
    assert failed["http_status"] == 502
    assert "reward" not in failed
    assert calls[1] == 3


def test_sigterm_stops_cleanly_and_still_prints_the_summary(agent_url: str, tmp_path: Path) -> None:
    rows = write_rows(tmp_path / "in.jsonl", [task(i, nap=0.05) for i in range(200)])
    out = tmp_path / "out.jsonl"
    cmd = [
        sys.executable,
        "-m",
        "gymbox.cli",
        "rollout",
        "-i",
        str(rows),
        "-o",
        str(out),
        "--url",
        agent_url,
        "-j",
        "2",
    ]
    env = {**os.environ, "COLUMNS": "200"}
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    deadline = time.monotonic() + 30
    while (not out.exists() or len(out.read_text().splitlines()) < 3) and time.monotonic() < deadline:
        time.sleep(0.02)
    proc.send_signal(signal.SIGTERM)
    stdout, stderr = proc.communicate(timeout=60)
    assert proc.returncode == 130, stderr
    written = len(read(out))
    assert 0 < written < 200
    assert f"{written} rollouts written to {out}" in stdout
    assert "rerun with --resume" in stderr


def test_a_lone_surrogate_in_an_answer_is_written_as_valid_json(tmp_path: Path) -> None:
    from gymbox.collector.store import JsonlAppender

    appender = JsonlAppender(tmp_path / "out.jsonl")
    appender.write({"output_text": "model said \ud800", "note": "café"})  # a model can emit "\ud800"
    appender.close()
    [line] = (tmp_path / "out.jsonl").read_bytes().splitlines()
    assert json.loads(line) == {"output_text": "model said \ud800", "note": "café"}


def test_a_run_without_rollouts_reports_no_pass_at_k(tmp_path: Path) -> None:
    out = tmp_path / "empty.jsonl"
    out.write_text("")
    metrics = compute_metrics(out)
    assert metrics["rollouts"] == 0
    assert not [key for key in metrics if "@" in key]  # no pass@0 or mean@0 in the JSON either

"""`gymbox view`: the index of a rollouts file and the API the page reads, in-process."""

import json
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from gymbox.collector.metrics import compute_metrics
from gymbox.errors import GymboxError
from gymbox.viewer.app import create_viewer_app
from gymbox.viewer.index import RunIndex
from tests.rollout_rows import failure_row, rollout_row, write_jsonl


@pytest.fixture
def run_a(tmp_path: Path) -> Path:
    """Task 0 always passes, task 1 never does, task 2 varies; a math task varies too; task 3 failed."""
    rows = [rollout_row(0, k, 1.0) for k in range(4)]
    rows += [rollout_row(1, k, 0.0, prompt="Is it raining in Oslo?") for k in range(4)]
    rows += [rollout_row(2, k, r, latency_s=2.0) for k, r in enumerate((1.0, 0.0, 1.0, 0.0))]
    rows += [
        rollout_row(9, k, r, agent="math_simple_agent", environment="math", prompt="2 + 2?", exact=True)
        for k, r in enumerate((0.5, 1.0))
    ]
    path = write_jsonl(tmp_path / "a.jsonl", rows)
    write_jsonl(tmp_path / "a_failures.jsonl", [failure_row(3, 0), failure_row(3, 1, "timeout")])
    return path


@pytest.fixture
def run_b(tmp_path: Path) -> Path:
    rows = [rollout_row(0, k, 1.0) for k in range(4)] + [rollout_row(1, k, 1.0) for k in range(4)]
    rows += [rollout_row(2, k, 0.0) for k in range(4)]
    return write_jsonl(tmp_path / "b.jsonl", rows)


def client(*paths: Path) -> TestClient:
    return TestClient(create_viewer_app([RunIndex(p) for p in paths]))


def test_the_index_reads_each_row_back_from_its_offset_and_skips_torn_lines(run_a: Path) -> None:
    with run_a.open("a") as handle:
        handle.write('{"torn": ')  # a crash mid-write
    index = RunIndex(run_a)
    lines = run_a.read_text().splitlines()
    assert len(index) == 2 + 14  # 2 failures (indexed first), 14 rollouts
    assert index.skipped_lines == 1
    assert index.read(2 + 5) == json.loads(lines[5])
    assert index.read(0)["status"] == "infra_error"
    assert [r.repeat for r in index.task_rows(index.task_id("key2.0") or 0)] == [0, 1, 2, 3]
    with pytest.raises(KeyError):
        index.read(99)


def test_a_missing_file_says_what_to_pass(tmp_path: Path) -> None:
    with pytest.raises(GymboxError, match=r"nope.jsonl: no such rollouts file"):
        RunIndex(tmp_path / "nope.jsonl")


def test_a_failure_scored_later_is_not_counted_as_a_failure(run_a: Path) -> None:
    with run_a.open("a") as handle:  # a resumed run scored task 3's repeat 0, which had failed
        handle.write(json.dumps(rollout_row(3, 0, 1.0)) + "\n")
    overview = client(run_a).get("/api/runs/0/overview").json()
    assert overview["failures"] == compute_metrics(run_a)["failures"] == {"timeout": 1}
    assert overview["failed"] == 1


def test_overview_agrees_with_gymbox_metrics(run_a: Path) -> None:
    overview = client(run_a).get("/api/runs/0/overview").json()
    metrics = compute_metrics(run_a)
    assert overview["rollouts"] == metrics["rollouts"] == 14
    assert overview["mean_reward"] == pytest.approx(metrics["mean_reward"])
    assert overview["std_reward"] == pytest.approx(metrics["std_reward"])
    assert overview["k"] == metrics["k"] == 2
    assert overview["pass@1"] == pytest.approx(metrics["pass@1"])
    assert overview["pass@2"] == pytest.approx(metrics["pass@2"])
    assert overview["failures"] == {"infra_error": 1, "timeout": 1}
    assert overview["constant_tasks"] == {"all_zero": 1, "all_pass": 1, "other": 0}
    assert sum(overview["histogram"]["counts"]) == 14
    assert overview["histogram"]["counts"][0] == 6
    assert overview["histogram"]["counts"][-1] == 7
    assert overview["latency_s"]["max"] == 3.0
    assert set(overview["per_environment"]) == {"weather", "math"}
    assert overview["per_environment"]["weather"]["constant_tasks"] == 2
    assert overview["per_agent"]["math_simple_agent"]["mean_reward"] == 0.75


def tasks(c: TestClient, **query: object) -> list[int]:
    answer = c.get("/api/runs/0/tasks", params=query)
    assert answer.status_code == 200, answer.text
    return [t["task_index"] for t in answer.json()["tasks"]]


def test_tasks_filter_and_sort(run_a: Path) -> None:
    c = client(run_a)
    assert tasks(c) == [0, 1, 2, 3, 9]
    assert tasks(c, sort="mean", desc=True) == [0, 9, 2, 1, 3]  # no scored rollout: last
    assert tasks(c, sort="variance", desc=True)[:2] == [2, 9]
    assert tasks(c, constant=True) == [0, 1]
    assert tasks(c, constant=False) == [2, 3, 9]
    assert tasks(c, environment="math") == [9]
    assert tasks(c, status="timeout") == [3]
    assert tasks(c, max_reward=0) == [1]
    assert tasks(c, min_reward=0.4, max_reward=0.8) == [2, 9]
    assert tasks(c, q="OSLO") == [1]
    page = c.get("/api/runs/0/tasks", params={"limit": 2, "offset": 2}).json()
    assert (page["total"], [t["task_index"] for t in page["tasks"]]) == (5, [2, 3])
    assert c.get("/api/runs/0/tasks", params={"sort": "bogus"}).status_code == 422


def test_a_task_lists_its_rollouts_and_a_rollout_reads_as_a_conversation(run_a: Path) -> None:
    c = client(run_a)
    task_id = c.get("/api/runs/0/tasks", params={"environment": "math"}).json()["tasks"][0]["id"]
    task = c.get(f"/api/runs/0/tasks/{task_id}").json()
    assert [(r["repeat"], r["reward"]) for r in task["rows"]] == [(0, 0.5), (1, 1.0)]
    rollout = c.get(f"/api/runs/0/rollouts/{task['rows'][1]['row_id']}").json()
    assert [t["kind"] for t in rollout["turns"]] == ["message", "reasoning", "tool_call", "message"]
    call = rollout["turns"][2]
    assert (call["name"], call["arguments"], call["output"]) == ("get_weather", {"city": "C"}, {"weather": "cold"})
    assert rollout["verify"] == {"reward": 1.0, "status": "ok", "error": None, "extras": {"exact": True}}
    assert rollout["task"] == {"id": 9}  # the row's own fields, apart from the prompt
    assert rollout["meta"]["agent"] == "math_simple_agent"
    failed = c.get("/api/runs/0/rollouts/0").json()
    assert failed["verify"]["status"] == "infra_error"
    assert "502" in failed["verify"]["error"]
    assert c.get("/api/runs/0/rollouts/99").status_code == 404
    assert c.get("/api/runs/3/overview").status_code == 404


def test_two_runs_compared_per_task_and_per_environment(run_a: Path, run_b: Path) -> None:
    c = client(run_a, run_b)
    result = c.get("/api/compare", params={"a": 0, "b": 1}).json()
    assert result["shared_tasks"] == 3
    assert (result["improved"], result["regressed"]) == (1, 1)
    assert [(t["task_index"], t["delta"]) for t in result["tasks"]] == [(1, 1.0), (2, -0.5), (0, 0.0)]
    weather = result["per_environment"]["weather"]
    assert weather["mean_a"] == pytest.approx(0.5)
    assert weather["mean_b"] == pytest.approx(2 / 3)
    assert c.get("/api/compare", params={"a": 0, "b": 1, "q": "oslo"}).json()["total"] == 1


def test_the_page_and_its_assets_are_served_without_any_other_origin(run_a: Path) -> None:
    c = client(run_a)
    page = c.get("/")
    assert page.status_code == 200
    assert "/static/app.js" in page.text
    for asset in ("app.js", "app.css"):
        body = c.get(f"/static/{asset}")
        assert body.status_code == 200
        assert "http://" not in body.text
        assert "https://" not in body.text
    assert c.get("/static/../app.py").status_code == 404
    runs = c.get("/api/runs").json()
    assert runs[0]["statuses"] == ["infra_error", "ok", "timeout"]


def test_odd_rows_are_indexed_not_fatal(tmp_path: Path) -> None:
    rows = [{"status": f"kind{i}", "gymbox": {"task_key": f"k{i}"}} for i in range(300)]
    rows += [{"status": 5, "reward": "1", "_ng_rollout_index": 10**20, "gymbox": "not an object"}]
    path = write_jsonl(tmp_path / "odd.jsonl", rows)
    with path.open("a") as handle:
        handle.write("[1, 2]\n")
    c = client(path)
    assert c.get("/api/runs").json()[0]["rows"] == 301
    assert c.get("/api/runs").json()[0]["skipped_lines"] == 1
    assert c.get("/api/runs/0/overview").json()["rollouts"] == 0  # nothing here is a scored reward
    odd = c.get("/api/runs/0/rollouts/300").json()
    assert odd["verify"]["status"] == 5
    assert odd["turns"] == []


def test_gymbox_view_on_a_busy_port_says_which_option_to_change(run_a: Path) -> None:
    import socket

    from typer.testing import CliRunner

    from gymbox.cli import app

    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        result = CliRunner().invoke(app, ["view", str(run_a), "--port", str(port)])
    assert result.exit_code != 0
    assert f"--port {port}: cannot listen on 127.0.0.1:{port}" in str(result.exception)

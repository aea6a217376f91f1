"""`gymbox rollout` and `gymbox metrics` through the real executable: exit codes, failures and rejected rows
shown, one vocabulary, --json. The agent is `fixed_answer_agent` (a test double) or a closed port."""

from __future__ import annotations

import contextlib
import json
import os
import resource
import subprocess
import time
from pathlib import Path

import pytest

from tests.cli_helpers import GYMBOX, WEATHER_ROWS, fixed_answer_agent, free_port, gymbox

ROWS = len(WEATHER_ROWS.read_text().splitlines())


def _closed_port_url() -> str:
    return f"http://127.0.0.1:{free_port()}"  # nothing listens on it


def _with_bad_line(tmp_path: Path) -> Path:
    rows = tmp_path / "rows.jsonl"
    rows.write_text("this is not json\n" + WEATHER_ROWS.read_text())
    return rows


def _rollout(tmp_path: Path, url: str, *args: str, rows: Path = WEATHER_ROWS):  # type: ignore[no-untyped-def]
    out = tmp_path / "out.jsonl"
    return gymbox("rollout", "-i", str(rows), "-o", str(out), "--url", url, "--max-attempts", "1", *args)


def test_every_rollout_failing_exits_3_and_shows_the_first_error(tmp_path: Path) -> None:
    result = _rollout(tmp_path, _closed_port_url())
    assert result.returncode == 3, result.stderr
    assert f"0 rollouts written to {tmp_path / 'out.jsonl'}; {ROWS} failed, 0 rejected" in result.stdout
    assert "first failure (infra_error" in result.stdout
    assert str(tmp_path / "out_failures.jsonl") in result.stdout
    assert f"failed {ROWS} rejected 0" in result.stderr  # the bar uses the summary's words
    assert "more than --max-failures allows (0)" in result.stderr


def test_max_failures_tolerates_a_count(tmp_path: Path) -> None:
    result = _rollout(tmp_path, _closed_port_url(), "--max-failures", str(ROWS))
    assert result.returncode == 0, result.stderr


def test_a_rejected_row_is_shown_with_its_reason_and_fails_the_run(tmp_path: Path) -> None:
    rows = _with_bad_line(tmp_path)
    with fixed_answer_agent() as url:
        result = _rollout(tmp_path, url, rows=rows)
    assert result.returncode == 3, result.stderr
    assert f"{ROWS} rollouts written" in result.stdout
    assert "0 failed, 1 rejected" in result.stdout
    assert f"  {rows}:1: not valid JSON" in result.stdout
    assert f"every rejected row, with its reason: {tmp_path / 'out_rejects.jsonl'}" in result.stdout
    assert "failed 0 rejected 1" in result.stderr  # a rejected row is not counted as failed
    assert "0 failed + 1 rejected = 1" in result.stderr


def test_max_failures_as_a_fraction_of_the_rollouts(tmp_path: Path) -> None:
    with fixed_answer_agent() as url:
        result = _rollout(tmp_path, url, "--max-failures", "0.5", rows=_with_bad_line(tmp_path))
    assert result.returncode == 0, result.stderr


def test_a_row_the_agent_refuses_is_rejected_with_the_agents_reason(tmp_path: Path) -> None:
    with fixed_answer_agent(400, {"detail": {"kind": "invalid_row", "message": "no city in the row"}}) as url:
        result = _rollout(tmp_path, url, "--limit", "1")
    assert result.returncode == 3
    assert "no city in the row" in result.stdout


def test_json_summary(tmp_path: Path) -> None:
    with fixed_answer_agent() as url:
        result = _rollout(tmp_path, url, "--json", "--repeats", "2")
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # stdout holds only the document; the bar is on stderr
    assert (summary["written"], summary["failed"], summary["rejected"]) == (2 * ROWS, 0, 0)
    assert summary["too_many_failures"] is False
    assert summary["metrics"]["pass@2"] == 1.0
    assert summary["files"]["rejects"] == str(tmp_path / "out_rejects.jsonl")


def test_resume_shows_only_this_runs_rejects(tmp_path: Path) -> None:
    rows = _with_bad_line(tmp_path)
    with fixed_answer_agent() as url:
        _rollout(tmp_path, url, rows=rows)
        again = _rollout(tmp_path, url, "--resume", "--json", rows=WEATHER_ROWS)
    summary = json.loads(again.stdout)
    assert again.returncode == 0, again.stderr
    assert summary["skipped"] == ROWS
    assert summary["first_rejects"] == []


def test_metrics_table_and_json(tmp_path: Path) -> None:
    with fixed_answer_agent() as url:
        assert _rollout(tmp_path, url).returncode == 0
    out = tmp_path / "out.jsonl"
    table = gymbox("metrics", str(out))
    assert table.returncode == 0, table.stderr
    assert table.stdout.count("pass@1") == 1  # one repeat: pass@1 is pass@k, shown once
    document = json.loads(gymbox("metrics", str(out), "--json").stdout)
    assert document["rollouts"] == ROWS
    assert len(document["per_task"]) == ROWS


def test_metrics_of_no_rollouts_shows_no_pass_at_0(tmp_path: Path) -> None:
    empty = tmp_path / "empty.jsonl"
    empty.write_text("")
    result = gymbox("metrics", str(empty))
    assert result.returncode == 0, result.stderr
    assert "pass@0" not in result.stdout
    assert "mean@0" not in result.stdout


def test_max_failures_1_0_tolerates_every_failure(tmp_path: Path) -> None:
    assert _rollout(tmp_path, _closed_port_url(), "--max-failures", "1.0").returncode == 0


def test_more_rollouts_in_flight_than_the_soft_open_file_limit_all_complete(tmp_path: Path) -> None:
    # Many shells start with a soft limit of 1,024 open files; here 256, with 400 rollouts held open at once.
    hard = resource.getrlimit(resource.RLIMIT_NOFILE)[1]
    if hard != resource.RLIM_INFINITY and hard < 1024:
        pytest.skip(f"the hard limit on open files here ({hard}) is below what this test raises to")
    repeats = -(-400 // ROWS)
    out = tmp_path / "out.jsonl"
    with fixed_answer_agent(delay_s=1.0) as url:
        result = gymbox(
            "rollout", "-i", str(WEATHER_ROWS), "-o", str(out), "--url", url, "-j", "400",
            "--repeats", str(repeats), "--max-attempts", "1", "--json",
            open_files=(256, hard),
        )  # fmt: skip
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout)["written"] == repeats * ROWS


def test_a_concurrency_beyond_the_hard_open_file_limit_is_refused_before_anything_runs(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with fixed_answer_agent() as url:
        result = gymbox(
            "rollout", "-i", str(WEATHER_ROWS), "-o", str(out), "--url", url, "-j", "1000", "--repeats", "100",
            open_files=(256, 300),
        )  # fmt: skip
    assert result.returncode == 1
    assert "concurrency 1000 needs about 1064 open files" in result.stderr
    assert "may open at most 300 (`ulimit -Hn`): lower the concurrency (-j) to 236 or less" in result.stderr
    assert not list(tmp_path.iterdir())  # no rollouts, failures or inputs file begun


def test_a_concurrency_beyond_the_open_file_limit_runs_when_the_rollouts_are_fewer(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    with fixed_answer_agent() as url:
        result = gymbox("rollout", "-i", str(WEATHER_ROWS), "-o", str(out), "--url", url, "-j", "1000",
                        open_files=(256, 300))  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(out.read_text().splitlines()) == ROWS


def test_a_directory_as_output_is_refused_by_name(tmp_path: Path) -> None:
    result = gymbox("rollout", "-i", str(WEATHER_ROWS), "-o", str(tmp_path), "--url", _closed_port_url())
    assert result.returncode == 1
    assert f"error: {tmp_path} is a directory; pass a file for the rollouts, e.g. {tmp_path / 'rollouts.jsonl'}" in (
        result.stderr
    )
    assert not list(tmp_path.iterdir())


def test_an_output_file_that_cannot_be_written_ends_the_run_with_every_line_before_it_kept(tmp_path: Path) -> None:
    # A file-size limit fails writes as a full disk does; the inputs list is the first file to reach it.
    out = tmp_path / "out.jsonl"
    with fixed_answer_agent() as url:
        args = ("rollout", "-i", str(WEATHER_ROWS), "-o", str(out), "--url", url, "--repeats", "200")
        result = gymbox(*args, file_size=20_000)
        assert result.returncode == 1, result.stderr[-2000:]
        inputs = tmp_path / "out_materialized_inputs.jsonl"
        assert f"error: cannot write {inputs}: File too large. Every line before it is on disk" in result.stderr
        assert "rerun with --resume to go on" in result.stderr
        assert "Traceback" not in result.stderr
        written = out.read_text().splitlines() if out.exists() else []
        assert all(json.loads(line)["reward"] == 1.0 for line in written)  # whole lines only

        resumed = gymbox(*args, "--resume", "--json")
    assert resumed.returncode == 0, resumed.stderr[-2000:]
    assert json.loads(resumed.stdout)["written"] == 200 * ROWS - len(written)
    assert len(out.read_text().splitlines()) == 200 * ROWS


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="needs /dev/full, a device every write to fails")
def test_a_full_disk_under_the_rollouts_file_ends_the_run_at_once(tmp_path: Path) -> None:
    out = tmp_path / "out.jsonl"
    out.symlink_to("/dev/full")  # every write fails with ENOSPC, as on a full disk
    with fixed_answer_agent() as url:
        result = gymbox("rollout", "-i", str(WEATHER_ROWS), "-o", str(out), "--url", url, "--repeats", "200")
    assert result.returncode == 1, result.stderr[-2000:]
    assert f"error: cannot write {out}: No space left on device. Every line before it is on disk" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "out_failures.jsonl").exists()  # ended, not recorded as a thousand failed rollouts


@pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this platform")
def test_the_collector_runs_as_batch_work(tmp_path: Path) -> None:
    with fixed_answer_agent(delay_s=1.0) as url:  # the rollouts stay in flight while the policy is read
        collector = subprocess.Popen(
            [str(GYMBOX), "rollout", "-i", str(WEATHER_ROWS), "-o", str(tmp_path / "out.jsonl"), "--url", url],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        policies = set()
        while collector.poll() is None:
            with contextlib.suppress(ProcessLookupError):  # it may end between poll() and the read
                policies.add(os.sched_getscheduler(collector.pid))
            time.sleep(0.05)
    assert collector.returncode == 0
    assert os.SCHED_BATCH in policies

"""Collector throughput and memory against a real stack: the weather environment with the scripted model.

    python benchmarks/bench_collector.py [--concurrency 1 16 64 256] [--rows 2000] [--memory-rows 10000 100000]

Brings the stack up with `gymbox up` (images must build or be cached), then:
- rollouts/s at each concurrency level, `--rows` rollouts each;
- the collector process's peak RSS (ru_maxrss) for each `--memory-rows` input size, to show it stays flat.
Every phase is bounded by `--phase-timeout`; the stack is torn down at the end.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
AGENT = "example_single_tool_call_simple_agent"
STACK = "bench"


def gymbox(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymbox.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def write_rows(path: Path, n: int) -> Path:
    examples = [
        json.loads(line)
        for line in (ROOT / "environments/example_single_tool_call/data/example.jsonl").read_text().splitlines()
    ]
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({**examples[i % len(examples)], "bench_id": i}) + "\n")
    return path


def collect(rows: Path, out: Path, concurrency: int, timeout: float) -> tuple[float, int, float]:
    """(rollouts/s, rollouts written, peak RSS of the collector process in MiB)."""
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "gymbox.cli",
            "rollout",
            "--stack",
            STACK,
            "--agent",
            AGENT,
            "-i",
            str(rows),
            "-o",
            str(out),
            "-j",
            str(concurrency),
            "--timeout",
            "60",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    deadline = started + timeout
    while True:  # wait4 gives this child's own peak RSS; poll so the phase stays bounded in time
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() > deadline:
            proc.kill()
            raise SystemExit(f"collector ran past {timeout:g} s")
        time.sleep(0.05)
    elapsed = time.monotonic() - started
    if os.waitstatus_to_exitcode(status) != 0:
        raise SystemExit(f"collector failed: {proc.stderr.read().decode() if proc.stderr else ''}")
    written = sum(1 for _ in out.open())
    return written / elapsed, written, usage.ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64, 256])
    parser.add_argument("--rows", type=int, default=2000, help="rollouts per concurrency level")
    parser.add_argument("--memory-rows", type=int, nargs="*", default=[10_000, 100_000])
    parser.add_argument("--memory-concurrency", type=int, default=128)
    parser.add_argument("--phase-timeout", type=float, default=900)
    args = parser.parse_args()

    print(f"bringing up {CONFIG} with the scripted model as stack {STACK!r} ...", flush=True)
    gymbox("up", "-c", CONFIG, "-m", "scripted", "--name", STACK, timeout=args.phase_timeout)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = write_rows(Path(tmp) / "rows.jsonl", args.rows)
            print(f"\nthroughput, {args.rows} rollouts per level (collector wall time, incl. its start-up):")
            print(f"{'concurrency':>12} {'rollouts/s':>11}")
            for level in args.concurrency:
                rate, written, _ = collect(rows, Path(tmp) / f"out_c{level}.jsonl", level, args.phase_timeout)
                print(
                    f"{level:>12} {rate:>11.1f}" + ("" if written == args.rows else f"  ({written} written)"),
                    flush=True,
                )
            print(f"\ncollector peak memory, concurrency {args.memory_concurrency}:")
            print(f"{'rows':>9} {'peak RSS MiB':>13} {'rollouts/s':>11}")
            for n in sorted(args.memory_rows):
                big = write_rows(Path(tmp) / f"rows_{n}.jsonl", n)
                rate, _, peak = collect(big, Path(tmp) / f"out_m{n}.jsonl", args.memory_concurrency, args.phase_timeout)
                print(f"{n:>9} {peak:>13.1f} {rate:>11.1f}", flush=True)
    finally:
        gymbox("down", "--name", STACK, timeout=120)


if __name__ == "__main__":
    main()

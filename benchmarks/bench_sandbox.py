"""Code-execution throughput through a real stack: code_exec + its hardened sandbox + the scripted model.

    python benchmarks/bench_sandbox.py [--concurrency 1 4 16] [--rows 200] [--max-concurrency 4]

Brings `environments/code_exec` up with `gymbox up` (images must build or be cached); every row answers
with a correct function that the verifier runs on 10 hidden tests in the sandbox, so each rollout is one
sandbox run (a fresh `python -I -B` with the harness). Prints rollouts/s per collector concurrency; the
sandbox runs `--max-concurrency` programs at once. Each phase is bounded by `--phase-timeout`; the stack
is torn down at the end.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONFIG = "environments/code_exec/configs/code_exec.yaml"
AGENT = "code_exec_simple_agent"
STACK = "bench-sandbox"
SOLUTION = (
    "def collatz_steps(n):\n    steps = 0\n    while n != 1:\n        n = n // 2 if n % 2 == 0 else 3 * n + 1\n"
    "        steps += 1\n    return steps\n"
)


def gymbox(*args: str, timeout: float) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "gymbox.cli", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=True,
    )


def steps(n: int) -> int:
    count = 0
    while n != 1:
        n = n // 2 if n % 2 == 0 else 3 * n + 1
        count += 1
    return count


def write_rows(path: Path, n: int) -> Path:
    script = json.dumps([{"say": f"```python\n{SOLUTION}```"}])
    tests = [{"args": [k], "expected": steps(k)} for k in range(27, 37)]
    with path.open("w") as handle:
        for i in range(n):
            handle.write(
                json.dumps(
                    {
                        "id": i,
                        "entry_point": "collatz_steps",
                        "tests": tests,
                        "responses_create_params": {
                            "input": [{"role": "user", "content": "collatz_steps(n)"}],
                            "tools": [],
                            "metadata": {"gymbox_script": script},
                        },
                    }
                )
                + "\n"
            )
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 4, 16])
    parser.add_argument("--rows", type=int, default=200)
    parser.add_argument("--max-concurrency", type=int, default=4, help="the sandbox's runs at once")
    parser.add_argument("--phase-timeout", type=float, default=600)
    args = parser.parse_args()
    gymbox(
        "up",
        "-c",
        CONFIG,
        "-m",
        "scripted",
        "--name",
        STACK,
        "--set",
        f"code_sandbox.sandboxes.python_sandbox.max_concurrency={args.max_concurrency}",
        timeout=900,
    )
    try:
        with tempfile.TemporaryDirectory() as tmp:
            rows = write_rows(Path(tmp) / "rows.jsonl", args.rows)
            print(
                f"{args.rows} rollouts per level, 10 hidden tests each, sandbox max_concurrency {args.max_concurrency}"
            )
            for concurrency in args.concurrency:
                out = Path(tmp) / f"out_{concurrency}.jsonl"
                start = time.perf_counter()
                gymbox(
                    "rollout",
                    "--stack",
                    STACK,
                    "--agent",
                    AGENT,
                    "-i",
                    str(rows),
                    "-o",
                    str(out),
                    "--concurrency",
                    str(concurrency),
                    timeout=args.phase_timeout,
                )
                elapsed = time.perf_counter() - start
                results = [json.loads(line) for line in out.read_text().splitlines()]
                assert all(r["reward"] == 1.0 for r in results), "a correct solution did not earn 1.0"
                print(
                    f"concurrency {concurrency:>3}: {len(results) / elapsed:6.1f} rollouts/s "
                    f"({elapsed:.1f} s, collector start included)"
                )
    finally:
        gymbox("down", "--name", STACK, timeout=300)


if __name__ == "__main__":
    main()

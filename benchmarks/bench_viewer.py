"""`gymbox view` on a generated 100,000-row rollouts file: start time, peak memory, time to first page.

    python benchmarks/bench_viewer.py [--rows 100000] [--repeats 4] [--keep DIR]

Generates rows shaped as `gymbox rollout` writes them (a prompt, reasoning, a tool call and its output,
an answer, the verifier's fields; about 2 KiB each) over four environments, starts the real CLI
(`gymbox view FILE --port 0`) and measures, from the process start:
- start: until the viewer listens (imports, indexing the file, the app);
- first page: until the page, its run list, the overview and the first page of tasks have answered;
- peak RSS of the viewer process (VmHWM) after that;
then the time of a few requests a person makes next (sorting tasks, filtering, opening a rollout).
"""

from __future__ import annotations

import argparse
import json
import random
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ENVIRONMENTS = ("math", "code_exec", "text_to_sql", "instruction_following")


def generate(path: Path, rows: int, repeats: int, seed: int = 0) -> None:
    rng = random.Random(seed)
    images = {env: f"gymbox/env-{env}:0123456789ab" for env in ENVIRONMENTS}
    with path.open("w", encoding="utf-8") as out:
        for task in range(rows // repeats):
            env = ENVIRONMENTS[task % len(ENVIRONMENTS)]
            difficulty = rng.random()
            prompt = f"Task {task} for {env}: " + " ".join(
                rng.choice(("solve", "explain", "check", "the", "value", "of", "x")) for _ in range(40)
            )
            for repeat in range(repeats):
                reward = float(rng.random() > difficulty)
                call = f"call_{task}_{repeat}"
                row = {
                    "responses_create_params": {
                        "input": [{"role": "user", "content": prompt}],
                        "tools": [{"type": "function", "name": "run", "parameters": {"type": "object"}}],
                    },
                    "response": {
                        "id": f"resp_{task}_{repeat}",
                        "model": "policy",
                        "output": [
                            {
                                "type": "reasoning",
                                "summary": [{"type": "summary_text", "text": "Let me think step by step. " * 8}],
                            },
                            {
                                "type": "function_call",
                                "name": "run",
                                "call_id": call,
                                "arguments": json.dumps({"code": "print(1 + 1)\n" * 6}),
                            },
                            {
                                "type": "function_call_output",
                                "call_id": call,
                                "output": json.dumps({"stdout": "2\n" * 6, "exit_code": 0}),
                            },
                            {
                                "type": "message",
                                "role": "assistant",
                                "content": [{"type": "output_text", "text": "The answer is 2. " * 10}],
                            },
                        ],
                        "usage": {"input_tokens": 420, "output_tokens": 180},
                    },
                    "id": task,
                    "reward": reward,
                    "exact": reward == 1.0,
                    "status": "ok" if rng.random() > 0.02 else "model_error",
                    "_ng_task_index": task,
                    "_ng_rollout_index": repeat,
                    "agent_ref": {"name": f"{env}_simple_agent"},
                    "gymbox": {
                        "task_key": f"{task:032x}.0",
                        "line": task + 1,
                        "task_fields": ["id", "responses_create_params"],
                        "attempts": 1,
                        "url": "http://127.0.0.1:32800",
                        "started_at": 1_800_000_000.0 + task,
                        "latency_s": round(rng.lognormvariate(0.0, 0.6), 4),
                        "stack": "bench",
                        "images": images,
                    },
                }
                out.write(json.dumps(row) + "\n")


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=120) as answer:
        return bytes(answer.read())


def peak_rss_mib(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed(label: str, url: str) -> None:
    begun = time.perf_counter()
    body = get(url)
    print(f"  {label:<44} {1000 * (time.perf_counter() - begun):7.1f} ms  ({len(body) / 1024:.0f} KiB)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--repeats", type=int, default=4)
    parser.add_argument("--keep", type=Path, help="write the generated file here instead of a temporary folder")
    args = parser.parse_args()
    folder = args.keep or Path(tempfile.mkdtemp(prefix="bench_viewer_"))
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "rollouts.jsonl"
    if not path.exists() or sum(1 for _ in path.open()) != args.rows:
        generate(path, args.rows, args.repeats)
    print(f"{path}: {args.rows:,} rows, {path.stat().st_size / 2**20:.0f} MiB")

    gymbox = Path(sys.executable).parent / "gymbox"
    started = time.perf_counter()
    proc = subprocess.Popen([str(gymbox), "view", str(path), "--port", "0"], stderr=subprocess.PIPE, text=True)
    try:
        base = ""
        assert proc.stderr is not None
        for line in proc.stderr:
            print(f"  viewer: {line.rstrip()}")
            if "gymbox view: http://" in line:
                base = line.split()[2].rstrip("/")
                break
        listening = time.perf_counter() - started
        for path_ in (
            "/",
            "/static/app.js",
            "/static/app.css",
            "/api/runs",
            "/api/runs/0/overview",
            "/api/runs/0/tasks?limit=100",
        ):
            get(base + path_)
        first_page = time.perf_counter() - started
        print(f"start (process start to listening)           {listening:7.2f} s")
        print(f"first page (process start to overview drawn) {first_page:7.2f} s")
        print(f"peak RSS of the viewer                       {peak_rss_mib(proc.pid):7.1f} MiB")
        print("next requests:")
        timed("tasks sorted by variance", base + "/api/runs/0/tasks?sort=variance&desc=true")
        timed("tasks filtered: constant, text", base + "/api/runs/0/tasks?constant=true&q=explain")
        timed("a task and its rollouts", base + "/api/runs/0/tasks/12345")
        timed("a rollout (read from disk)", base + f"/api/runs/0/rollouts/{args.rows - 1}")
        print(f"peak RSS after them                          {peak_rss_mib(proc.pid):7.1f} MiB")
    finally:
        proc.terminate()
        proc.wait(timeout=30)


if __name__ == "__main__":
    main()

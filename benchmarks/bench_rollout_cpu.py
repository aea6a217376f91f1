"""CPU time per rollout of each gymbox process, without Docker: where a rollout's CPU goes.

    python benchmarks/bench_rollout_cpu.py [--rows 3000] [--concurrency 64] [--model scripted|openai]
                                           [--api chat|responses] [--repeats 3] [--profile DIR]

Serves the example_single_tool_call stack as `gymbox serve` processes on 127.0.0.1 (the environment, the
policy model and the agent, each its own process as in a container), then runs `gymbox rollout` against the
agent. `--model openai` puts the `openai_model` proxy in front of benchmarks/zero_latency_policy.py (a
benchmark double answering at once). For each repeat it prints the CPU time (user + system, from /proc) each
server process spent per rollout, the collector's (its whole process, start-up included), and the rate; then
how often each server blocked per rollout (voluntary context switches, each one a wake-up later; there are
more of them the fewer rollouts are in flight) and how busy the host was.
This is the quick loop for CPU work: no images, no container networking, seconds a run; the whole path in
containers, beside NeMo Gym, is benchmarks/bench_vs_nemogym.py. `--profile DIR` samples each server with
py-spy (`pip install py-spy`) into DIR/<process>.txt (raw collapsed stacks), the collector too, which slows the run.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

from bench_vs_nemogym import host_busy  # (busy, all) host CPU ticks; this script's folder is on sys.path

ROOT = Path(__file__).resolve().parents[1]
ENV = "example_single_tool_call"
CONFIG = ROOT / "environments" / ENV / "configs" / f"{ENV}.yaml"
ROWS_SOURCE = ROOT / "environments" / ENV / "data" / "example.jsonl"
AGENT = f"{ENV}_simple_agent"
LABELS = {ENV: "environment", "policy_model": "model", AGENT: "agent"}
TICKS = os.sysconf("SC_CLK_TCK")
BASE_PORT = 18_001


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime + stime


def sleeps(pid: int) -> int:
    """How often the process has blocked (voluntary context switches): each one is a wake-up later."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("voluntary_ctxt_switches:"):
            return int(line.split()[1])
    return 0


def children_cpu_seconds() -> float:
    usage = os.times()
    return usage.children_user + usage.children_system


def healthy(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=1):
            return True
    except OSError:
        return False


def start_servers(args: argparse.Namespace) -> tuple[dict[str, subprocess.Popen[bytes]], list[subprocess.Popen[bytes]]]:
    """The three servers, each a `gymbox serve` process; plus the policy double for `--model openai`."""
    instances = {
        ENV: f"resources_servers.{ENV}",
        "policy_model": f"responses_api_models.{args.model}_model",
        AGENT: "responses_api_agents.simple_agent",
    }
    ports = {name: BASE_PORT + i for i, name in enumerate(instances)}
    sets: list[str] = []
    for name, path in instances.items():
        sets += ["--set", f"{name}.{path}.host=127.0.0.1", "--set", f"{name}.{path}.port={ports[name]}"]
    extra: list[subprocess.Popen[bytes]] = []
    if args.model == "openai":
        policy_port = BASE_PORT + len(instances)
        extra.append(
            subprocess.Popen(
                [sys.executable, str(ROOT / "benchmarks" / "zero_latency_policy.py"), str(policy_port)],
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
        )
        sets += [
            "--set", f"policy_base_url=http://127.0.0.1:{policy_port}/v1", "--set", "policy_api_key=bench",
            "--set", "policy_model_name=policy", "--set", f"policy_model.{instances['policy_model']}.api={args.api}",
        ]  # fmt: skip
    serve = [
        sys.executable,
        "-m",
        "gymbox.cli",
        "serve",
        "-c",
        str(CONFIG),
        "-m",
        args.model,
        "--env-file",
        "/dev/null",
    ]
    servers = {
        LABELS[name]: subprocess.Popen([*serve, "-n", name, "--log-level", "warning", *sets], cwd=ROOT)
        for name in instances
    }
    deadline = time.monotonic() + 60
    while not all(healthy(port) for port in ports.values()):
        if time.monotonic() > deadline or any(p.poll() is not None for p in servers.values()):
            stop([*servers.values(), *extra])
            sys.exit("the servers did not come up within 60 s")
        time.sleep(0.3)
    return servers, extra


def stop(processes: list[subprocess.Popen[bytes]]) -> None:
    for proc in processes:
        if proc.poll() is None:
            proc.send_signal(signal.SIGINT)
    for proc in processes:
        try:
            proc.wait(15)
        except subprocess.TimeoutExpired:
            proc.kill()


def one_run(args: argparse.Namespace, servers: dict[str, subprocess.Popen[bytes]], work: Path, rows: Path) -> None:
    spies = []
    if args.profile:
        args.profile.mkdir(parents=True, exist_ok=True)
        for name, proc in servers.items():
            out = args.profile / f"{name}.txt"
            spy = ["py-spy", "record", "-p", str(proc.pid), "-r", "250", "-f", "raw", "-o", str(out), "--nonblocking"]
            spies.append(subprocess.Popen(spy, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        time.sleep(1)
    before = {name: cpu_seconds(proc.pid) for name, proc in servers.items()}
    sleeps_before = {name: sleeps(proc.pid) for name, proc in servers.items()}
    host_before = host_busy()
    collector_before = children_cpu_seconds()
    out = work / "rollouts.jsonl"
    out.unlink(missing_ok=True)
    started = time.monotonic()
    collector = [sys.executable, "-m", "gymbox.cli", "rollout", "--url", f"http://127.0.0.1:{BASE_PORT + 2}",
                 "--agent", AGENT, "-i", str(rows), "-o", str(out), "--concurrency", str(args.concurrency)]  # fmt: skip
    if args.profile:  # the collector is sampled from its start: its start-up is part of its cost
        collector = ["py-spy", "record", "-r", "250", "-f", "raw", "-o", str(args.profile / "collector.txt"), "--",
                     *collector]  # fmt: skip
    subprocess.run(collector, cwd=ROOT, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wall = time.monotonic() - started
    per_rollout = {name: (cpu_seconds(proc.pid) - before[name]) * 1000 / args.rows for name, proc in servers.items()}
    per_rollout["collector"] = (children_cpu_seconds() - collector_before) * 1000 / args.rows
    busy_ticks, all_ticks = (after - start for after, start in zip(host_busy(), host_before, strict=True))
    sleeps_per_rollout = {name: (sleeps(proc.pid) - sleeps_before[name]) / args.rows for name, proc in servers.items()}
    stop(spies)
    figures = "  ".join(f"{name}={ms:.2f}" for name, ms in per_rollout.items())
    load = os.getloadavg()[0]
    print(
        f"{args.model:8} cpu {sum(per_rollout.values()):5.2f} ms/rollout  [{figures}]  "
        f"{args.rows / wall:6.1f} rollouts/s  load {load:.1f}",
        flush=True,
    )
    print(
        "         sleeps/rollout ["
        + "  ".join(f"{name}={n:.2f}" for name, n in sleeps_per_rollout.items())
        + f"]  host busy {100 * busy_ticks / max(all_ticks, 1):.0f}%",
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=3000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--model", choices=["scripted", "openai"], default="scripted")
    parser.add_argument("--api", choices=["chat", "responses"], default="chat", help="openai_model's upstream API")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--profile", type=Path, default=None, help="py-spy each server into DIR/<process>.txt")
    args = parser.parse_args()
    examples = ROWS_SOURCE.read_text().splitlines()
    with tempfile.TemporaryDirectory(prefix="gymbox-bench-") as tmp:
        work = Path(tmp)
        rows = work / "rows.jsonl"
        rows.write_text("".join(examples[i % len(examples)] + "\n" for i in range(args.rows)))
        servers, extra = start_servers(args)
        try:
            for _ in range(args.repeats):
                one_run(args, servers, work, rows)
        finally:
            stop([*servers.values(), *extra])
    print(json.dumps({"rows": args.rows, "concurrency": args.concurrency, "model": args.model}))


if __name__ == "__main__":
    main()

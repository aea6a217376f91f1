"""Rollouts/s of the weather stack on the compose engine and on a 1-node and a 3-node Docker Swarm.

    python benchmarks/bench_swarm.py [--rows 2000] [--concurrency 64] [--replicas 3] [--engines compose swarm1 swarm3]

The Swarm nodes are docker-in-docker engines on this one machine (gymbox.docker.swarm_lab), so they share its
cores: the figures show what the Swarm path costs against compose, not how it scales. Each engine gets a
fresh stack with `--replicas` environment and agent replicas; the collector runs in this process, against
every agent replica, and every phase is bounded by `--timeout`. Everything is torn down at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import tempfile
import time
from pathlib import Path

from gymbox.collector.runner import CollectOptions, Collector
from gymbox.config import ResolvedConfig, load_config
from gymbox.docker.deploy import deploy
from gymbox.docker.images import BuildOptions, build_stack_images, resolve_ca_bundle
from gymbox.docker.registry import push_images
from gymbox.docker.render import render
from gymbox.docker.swarm import agent_urls_swarm, deploy_swarm, remove_swarm
from gymbox.docker.swarm_lab import SwarmLab

ROOT = Path(__file__).resolve().parents[1]
CONFIG = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
ENV = "example_single_tool_call"
AGENT = "example_single_tool_call_simple_agent"


def config(replicas: int) -> ResolvedConfig:
    return load_config(
        [CONFIG],
        model="scripted",
        sets=[
            f"{ENV}.resources_servers.{ENV}.replicas={replicas}",
            f"{AGENT}.responses_api_agents.simple_agent.replicas={replicas}",
        ],
    )


def write_rows(path: Path, n: int) -> Path:
    examples = (ROOT / "environments/example_single_tool_call/data/example.jsonl").read_text().splitlines()
    with path.open("w") as handle:
        for i in range(n):
            handle.write(json.dumps({**json.loads(examples[i % len(examples)]), "bench_id": i}) + "\n")
    return path


def collect(urls: dict[str, list[str]], rows: Path, out: Path, concurrency: int, timeout: float) -> tuple[float, int]:
    """(rollouts/s, rollouts written)."""
    options = CollectOptions(concurrency=concurrency, agent=AGENT, timeout_s=60)
    started = time.monotonic()
    summary = asyncio.run(asyncio.wait_for(Collector(urls, out, options).run(rows), timeout))
    return summary.written / (time.monotonic() - started), summary.written


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, default=2000)
    parser.add_argument("--concurrency", type=int, default=64)
    parser.add_argument("--replicas", type=int, default=3)
    parser.add_argument("--engines", nargs="+", default=["compose", "swarm1", "swarm3"])
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds any one phase may take")
    args = parser.parse_args()

    options = BuildOptions(ca_bundle=resolve_ca_bundle(None))
    cfg = config(args.replicas)
    images = build_stack_images(cfg, options)
    results: list[tuple[str, float, float, int]] = []
    with tempfile.TemporaryDirectory() as tmp:
        rows = write_rows(Path(tmp) / "rows.jsonl", args.rows)
        for engine in args.engines:
            out = Path(tmp) / f"{engine}.jsonl"
            started = time.monotonic()
            if engine == "compose":
                with deploy(cfg, "bench-swarm-compose", options=options, timeout=args.timeout) as running:
                    ready = time.monotonic() - started
                    rate, written = collect(running.agent_urls, rows, out, args.concurrency, args.timeout)
                    running.stack.down()
            else:
                nodes = int(engine.removeprefix("swarm"))
                with SwarmLab(f"bench-{engine}", nodes=nodes, options=options) as lab:
                    files = render(cfg, "bench", push_images(images, lab.registry), root=Path(tmp) / engine)
                    deploy_swarm(files, host=lab.manager, timeout=args.timeout)
                    ready = time.monotonic() - started
                    rate, written = collect(
                        agent_urls_swarm("bench", lab.manager), rows, out, args.concurrency, args.timeout
                    )
                    remove_swarm("bench", lab.manager)
            results.append((engine, ready, rate, written))
            print(f"{engine}: ready in {ready:.0f} s, {written} rollouts at {rate:.1f} rollouts/s", flush=True)

    print(f"\n| engine | ready (s, cached images) | rollouts/s ({args.rows} rollouts, {args.concurrency} in flight) |")
    print("|---|---|---|")
    for engine, ready, rate, _ in results:
        print(f"| {engine} | {ready:.0f} | {rate:.1f} |")


if __name__ == "__main__":
    main()

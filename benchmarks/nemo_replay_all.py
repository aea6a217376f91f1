"""Replay every resources server of a nemo-gym release against its recorded rollouts; print the table.

    python benchmarks/nemo_replay_all.py --version 0.4.0 --batch 8 --out rollouts/nemo-replay
    python benchmarks/nemo_replay_all.py --only math_with_judge simpleqa code_gen
    python benchmarks/nemo_replay_all.py --only blackjack grl_sokoban --stack-prefix nemo-agents --out /tmp/r

Each server is built (on the shared nemo-gym layer), started in its own container in batches, driven by
gymbox's simple_agent with replay_model playing the recorded turns, collected with `gymbox rollout`, and
its rewards compared with the recorded ones (gymbox.nemo.conformance); judge servers get their recorded
judge answers from replay_model, and servers whose config drives them with NeMo's own agent run with that
agent in the stack. Prints timings and the Markdown table the README shows, and writes it
to `<out>/table.md` and `<out>/results.json`. The summary line gives the host's load average (1, 5, 15
min) at the end, since other jobs on a shared host slow the start of the servers.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path


def main() -> None:
    from gymbox.nemo.conformance import markdown_table, run_release

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="0.4.0")
    parser.add_argument("--batch", type=int, default=8, help="servers per stack (about 0.5-1 GiB each)")
    parser.add_argument("--only", nargs="*", default=[], help="server names, space- or comma-separated (default: all)")
    parser.add_argument("--out", type=Path, default=Path("rollouts/nemo-replay"))
    parser.add_argument(
        "--stack-prefix", default="nemo-replay", help="stacks are <prefix>-<batch>: another name for a second run"
    )
    args = parser.parse_args()

    start = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - start:7.1f}s] {message}", flush=True)

    names = [n for arg in args.only for n in arg.split(",") if n] or None
    results = run_release(
        args.version, args.out, names=names, batch_size=args.batch, stack_prefix=args.stack_prefix, log=log
    )
    table = markdown_table(results)
    (args.out / "table.md").write_text(table, encoding="utf-8")
    (args.out / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2), encoding="utf-8")
    ran = [r for r in results if r.rows]
    conforming = [r for r in ran if r.match_rate >= 0.95]
    print(table)
    print(
        f"{len(results)} servers: {sum(1 for r in results if r.built)} built, "
        f"{sum(1 for r in results if r.healthy)} healthy, {len(ran)} replayed, "
        f"{len(conforming)} with >= 95% of rewards matched, {sum(r.rows for r in ran)} rows, "
        f"{sum(r.matched for r in ran)} matched; {time.monotonic() - start:.0f} s in all, "
        f"load average {' '.join(f'{x:.1f}' for x in os.getloadavg())}"
    )


if __name__ == "__main__":
    main()

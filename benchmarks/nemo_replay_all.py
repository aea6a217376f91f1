"""Replay every resources server of a nemo-gym release against its recorded rollouts; print the table.

    python benchmarks/nemo_replay_all.py --version 0.4.0 --batch 8 --out rollouts/nemo-replay

Each server is built (on the shared nemo-gym layer), started in its own container in batches, driven by
gymbox's simple_agent with replay_model playing the recorded turns, collected with `gymbox rollout`, and
its rewards compared with the recorded ones (gymbox.nemo.conformance). Prints timings and the Markdown
table the README shows, and writes it to `<out>/table.md` and `<out>/results.json`.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def main() -> None:
    from gymbox.nemo.conformance import markdown_table, run_release

    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--version", default="0.4.0")
    parser.add_argument("--batch", type=int, default=8, help="servers per stack (about 0.5-1 GiB each)")
    parser.add_argument("--only", default="", help="comma-separated server names (default: all)")
    parser.add_argument("--out", type=Path, default=Path("rollouts/nemo-replay"))
    args = parser.parse_args()

    start = time.monotonic()

    def log(message: str) -> None:
        print(f"[{time.monotonic() - start:7.1f}s] {message}", flush=True)

    names = [n for n in args.only.split(",") if n] or None
    results = run_release(args.version, args.out, names=names, batch_size=args.batch, log=log)
    table = markdown_table(results)
    (args.out / "table.md").write_text(table, encoding="utf-8")
    (args.out / "results.json").write_text(json.dumps([r.__dict__ for r in results], indent=2), encoding="utf-8")
    ran = [r for r in results if r.rows]
    conforming = [r for r in ran if r.match_rate >= 0.95]
    print(table)
    print(
        f"{len(results)} servers: {sum(1 for r in results if r.built)} built, "
        f"{sum(1 for r in results if r.healthy)} healthy, {len(ran)} replayed, "
        f"{len(conforming)} with >= 95% of rewards matched; {time.monotonic() - start:.0f} s in all"
    )


if __name__ == "__main__":
    main()

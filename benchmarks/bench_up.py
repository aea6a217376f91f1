"""How long the weather stack takes: a cold image build, a cached `up` to all-healthy, and `down`.

    .venv/bin/python benchmarks/bench_up.py [--repeats 3] [--skip-cold] [--ca-bundle host]

Cold build: the runtime and weather images rebuilt with --no-cache (every layer, every pip download).
Cached up: `gymbox up` of the 3-service stack with images present, measured two ways: the whole CLI
command (what a user waits for) and the stack alone (compose start to every container healthy).
Every step has a time limit; the stack is always torn down.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "environments/example_single_tool_call/configs/example_single_tool_call.yaml"
ENV = "example_single_tool_call"
STACK = "bench-up"
GYMBOX = str(Path(sys.executable).parent / "gymbox")


def timed(label: str, argv: list[str], timeout: float, env: dict[str, str]) -> float:
    start = time.monotonic()
    result = subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout, check=False)
    elapsed = time.monotonic() - start
    if result.returncode != 0:
        sys.exit(f"{label} failed ({result.returncode}):\n{result.stderr[-3000:]}")
    return elapsed


def cold_build(ca_bundle: str | None) -> float:
    from gymbox.docker.images import BuildOptions, build_images, resolve_ca_bundle

    options = BuildOptions(ca_bundle=resolve_ca_bundle(ca_bundle), no_cache=True)
    start = time.monotonic()
    build_images(options, [ENV])
    return time.monotonic() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-cold", action="store_true", help="skip the --no-cache build")
    parser.add_argument("--ca-bundle", default=os.environ.get("GYMBOX_CA_BUNDLE"))
    args = parser.parse_args()
    env = dict(os.environ, GYMBOX_COMPOSE_DIR=str(ROOT / "compose"))
    if args.ca_bundle:
        env["GYMBOX_CA_BUNDLE"] = args.ca_bundle
        os.environ["GYMBOX_CA_BUNDLE"] = args.ca_bundle

    from gymbox.docker.stack import Stack

    Stack(STACK).down()
    if not args.skip_cold:
        print(f"cold build (runtime + {ENV}, --no-cache): {cold_build(args.ca_bundle):.1f} s", flush=True)
    timed("warm-up up", [GYMBOX, "up", "-c", str(CONFIG), "-m", "scripted", "--name", STACK], 600, env)
    Stack(STACK).down()

    cli_up, cli_down = [], []
    for _ in range(args.repeats):
        cli_up.append(
            timed("gymbox up", [GYMBOX, "up", "-c", str(CONFIG), "-m", "scripted", "--name", STACK], 300, env)
        )
        cli_down.append(timed("gymbox down", [GYMBOX, "down", "--name", STACK], 120, env))

    # The same, through the Python API: the stack alone, without the CLI's ~1 s of Python start-up.
    from gymbox.config import load_config
    from gymbox.docker.deploy import build_and_render
    from gymbox.docker.images import BuildOptions, resolve_ca_bundle

    options = BuildOptions(ca_bundle=resolve_ca_bundle(args.ca_bundle))
    ups, downs = [], []
    for _ in range(args.repeats):
        stack = load_config([CONFIG], model="scripted")
        _images, rendered = build_and_render(stack, STACK, options)
        start = time.monotonic()
        with Stack(STACK, rendered.directory).up({s.name: s.replicas for s in rendered.services}, timeout=120):
            ups.append(time.monotonic() - start)
        start = time.monotonic()
        Stack(STACK).down()
        downs.append(time.monotonic() - start)

    def fmt(xs: list[float]) -> str:
        return f"median {statistics.median(xs):.2f} s (min {min(xs):.2f}, max {max(xs):.2f}, n={len(xs)})"

    print(f"`gymbox up` (CLI, images cached) to all healthy: {fmt(cli_up)}")
    print(f"`gymbox down` (CLI):                            {fmt(cli_down)}")
    print(f"stack start to all healthy (API, no CLI start-up): {fmt(ups)}")
    print(f"stack down (API):                                  {fmt(downs)}")


if __name__ == "__main__":
    main()

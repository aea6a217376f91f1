"""Cyclic garbage collection for the long-lived processes on a rollout's path: every `gymbox serve` server and
the collector.

CPython's default starts a young collection every 700 net allocations of container objects. With hundreds of
rollouts in flight, each pending request's objects live through many of them, and each full collection walks
every object the imports made too (FastAPI, pydantic, the openai types). `bench_rollout_cpu.py --model openai
--concurrency 1024` put a third of the agent's CPU per rollout on collection. Freezing what start-up built
and collecting young objects every 20,000 allocations gave back most of it; the collector keeps running, so
reference cycles made later are still freed.
"""

from __future__ import annotations

import gc

YOUNG_THRESHOLD = 20_000  # CPython's default is 700


def settle_after_startup() -> None:
    """Call once the process has built what it keeps for its whole life (imports, the app): collect start-up's
    garbage, move what is left out of the collector's sight for good (`gc.freeze`), and collect young objects
    less often."""
    gc.collect()
    gc.freeze()
    _, middle, old = gc.get_threshold()
    gc.set_threshold(YOUNG_THRESHOLD, middle, old)

"""The open-file limit of gymbox's long-lived processes: every connection in flight is a file descriptor.

Many systems start a shell with a soft limit of 1,024 open files and a much higher hard limit. At that soft
limit a collector with a thousand rollouts in flight fails on its next connection or file (EMFILE), and a
server stops accepting. A process may raise its own soft limit up to the hard one, as the limit intends, so
gymbox does that at start, before any work: the collector to what its concurrency needs, a server to the
hard limit (it cannot know how many peers will connect). Where even the hard limit is too low for the
collector, it refuses to start and says which limit to raise, instead of failing rollouts halfway.
"""

from __future__ import annotations

import math
from collections.abc import Callable

from gymbox.errors import GymboxError

try:
    import resource
except ImportError:  # Windows has no rlimits: nothing to raise
    resource = None  # type: ignore[assignment]

# Beyond one connection per rollout in flight: the rollouts, failures, rejects and inputs files, the standard
# streams, the metrics exporter's socket, the pipes of a docker look-up.
COLLECTOR_SPARE_FILES = 64


def raise_soft_limit(needed: int | None = None) -> float | None:
    """Raise this process's soft limit on open files to `needed` (None: to the hard limit), never lowering
    it. Returns the soft limit now in force (`math.inf` for none); None where the platform has no such limit."""
    if resource is None:
        return None
    soft_limit, hard_limit = resource.getrlimit(resource.RLIMIT_NOFILE)
    soft, hard = _as_number(soft_limit), _as_number(hard_limit)
    target = min(hard, math.inf if needed is None else needed)
    if target <= soft or target == math.inf:  # an unlimited hard limit: leave the soft one where it is
        return soft
    try:
        resource.setrlimit(resource.RLIMIT_NOFILE, (int(target), hard_limit))
    except (ValueError, OSError):  # e.g. macOS caps the soft limit below an unlimited hard one
        return soft
    return target


def ensure_for_collector(concurrency: int, count_rollouts: Callable[[], int | None]) -> None:
    """Let a collector hold a connection per rollout in flight, or raise GymboxError before it starts.
    `count_rollouts` (the run's rollouts, None when unknown) is called only when the limit falls short: a run
    of fewer rollouts than its concurrency holds fewer connections."""
    needed = concurrency + COLLECTOR_SPARE_FILES
    soft = raise_soft_limit(needed)
    if soft is None or soft >= needed:
        return
    rollouts = count_rollouts()
    if rollouts is not None and rollouts + COLLECTOR_SPARE_FILES <= soft:
        return
    raise GymboxError(
        f"concurrency {concurrency} needs about {needed} open files (one connection per rollout in flight), "
        f"but this process may open at most {soft:.0f} (`ulimit -Hn`): lower the concurrency (-j) to "
        f"{max(1, int(soft) - COLLECTOR_SPARE_FILES)} or less, or raise the hard limit"
    )


def _as_number(limit: int) -> float:
    return math.inf if limit == resource.RLIM_INFINITY else limit

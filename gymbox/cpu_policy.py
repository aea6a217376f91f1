"""The CPU scheduling policy of the processes on a rollout's path: Linux's SCHED_BATCH.

A rollout crosses four or five processes (collector, agent, model, environment, proxy), each woken for a
request and then waiting on the next hop. Under Linux's default policy a process that wakes takes the CPU
from the one running there, mid-request, and each takes the other's place in the caches: at 16 rollouts in
flight the agent was preempted 0.4 times a rollout. SCHED_BATCH marks a process as throughput work: its
wake-ups wait for the running one's time slice, which is usually the end of its request. It keeps the same
share of the CPU, and a process that wakes beside an idle CPU still runs at once, so it only orders work on a
saturated machine. `bench_rollout_cpu.py` measured 5-10 % less CPU per rollout at 16 and 64 in flight, where
preemption was most frequent (the README's Benchmarks). A policy is per thread and is inherited: set early, it
covers the threads and child processes that come later. No privilege is needed to choose it, in a container too.
"""

from __future__ import annotations

import logging
import os

OPT_OUT = "GYMBOX_SCHED_BATCH"  # "0" keeps the default policy

log = logging.getLogger(__name__)


def prefer_throughput() -> bool:
    """Run the calling thread, and what it starts from now on, as SCHED_BATCH. True if it does now.

    Leaves a policy someone chose (`chrt --idle`, a real-time one) alone, and does nothing where the platform
    has no such policy or `GYMBOX_SCHED_BATCH=0`."""
    if os.environ.get(OPT_OUT) == "0" or not hasattr(os, "SCHED_BATCH"):
        return False
    if os.sched_getscheduler(0) != os.SCHED_OTHER:
        return False
    try:
        os.sched_setscheduler(0, os.SCHED_BATCH, os.sched_param(0))
    except OSError as exc:  # a seccomp profile may deny it: the default policy costs only some throughput
        log.debug("kept the default CPU scheduling policy: %s", exc)
        return False
    return True

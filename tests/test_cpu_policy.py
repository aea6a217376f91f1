"""`prefer_throughput`: the CPU scheduling policy `gymbox serve` and `gymbox rollout` choose for themselves.

A policy belongs to a thread, so each case runs on a thread of its own and leaves pytest's alone."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable

import pytest

from gymbox.cpu_policy import OPT_OUT, prefer_throughput

pytestmark = pytest.mark.skipif(not hasattr(os, "SCHED_BATCH"), reason="no SCHED_BATCH on this platform")


SET_POLICY = getattr(os, "sched_setscheduler", None)  # bound at import: one test replaces os's


def start_as_default() -> None:
    """The calling thread back on the default policy. An in-process CLI test may have left pytest's own
    thread, which new threads copy, as batch work."""
    assert SET_POLICY is not None
    SET_POLICY(0, os.SCHED_OTHER, os.sched_param(0))


def on_a_thread(before: Callable[[], None] = lambda: None) -> tuple[bool, int]:
    """What prefer_throughput returns on a fresh thread, and the thread's policy after it."""
    seen: list[tuple[bool, int]] = []

    def body() -> None:
        start_as_default()
        before()
        seen.append((prefer_throughput(), os.sched_getscheduler(0)))

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    return seen[0]


def test_the_default_policy_becomes_batch() -> None:
    assert on_a_thread() == (True, os.SCHED_BATCH)


def test_threads_started_afterwards_inherit_it() -> None:
    inherited: list[int] = []

    def body() -> None:
        start_as_default()
        prefer_throughput()
        child = threading.Thread(target=lambda: inherited.append(os.sched_getscheduler(0)))
        child.start()
        child.join()

    thread = threading.Thread(target=body)
    thread.start()
    thread.join()
    assert inherited == [os.SCHED_BATCH]


def test_the_environment_variable_keeps_the_default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(OPT_OUT, "0")
    assert on_a_thread() == (False, os.SCHED_OTHER)


def test_a_policy_someone_chose_is_kept() -> None:
    idle = lambda: os.sched_setscheduler(0, os.SCHED_IDLE, os.sched_param(0))  # noqa: E731  as `chrt --idle`
    assert on_a_thread(idle) == (False, os.SCHED_IDLE)


def test_a_denied_change_leaves_the_default_policy(monkeypatch: pytest.MonkeyPatch) -> None:
    def denied(*_: object) -> None:
        raise PermissionError(1, "Operation not permitted")  # as a seccomp profile without sched_setscheduler

    monkeypatch.setattr(os, "sched_setscheduler", denied)
    assert on_a_thread() == (False, os.SCHED_OTHER)

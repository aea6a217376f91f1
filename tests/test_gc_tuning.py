"""`settle_after_startup`: what `gymbox serve` and `gymbox rollout` do to the garbage collector once started."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from gymbox.gc_tuning import YOUNG_THRESHOLD, settle_after_startup


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> weakref.ref[Node]:
    """A pair of objects that only the cyclic collector can free; a weak reference to watch it go."""
    a, b = Node(), Node()
    a.other, b.other = b, a
    return weakref.ref(a)


@pytest.fixture
def restored_gc() -> Iterator[None]:
    thresholds = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


@pytest.mark.usefixtures("restored_gc")
def test_startup_garbage_is_freed_and_what_is_kept_is_frozen() -> None:
    gc.unfreeze()
    startup_garbage = cycle()
    kept = Node()
    settle_after_startup()
    assert startup_garbage() is None  # collected, not frozen for the process's life
    assert gc.get_freeze_count() > 0
    assert all(obj is not kept for obj in gc.get_objects())  # in no generation: never walked again
    assert gc.get_threshold()[0] == YOUNG_THRESHOLD


@pytest.mark.usefixtures("restored_gc")
def test_cycles_made_later_are_still_collected_without_asking() -> None:
    settle_after_startup()
    later = cycle()
    # Live container objects count towards the next young collection, which frees the dropped pair.
    alive = [[] for _ in range(2 * YOUNG_THRESHOLD)]
    assert later() is None
    assert len(alive) == 2 * YOUNG_THRESHOLD

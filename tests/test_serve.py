"""The startup heap is frozen once services are up, so full collections skip it."""

from __future__ import annotations

import gc
import weakref
from collections.abc import Iterator

import pytest

from robolearn.serve import freeze_startup_heap


class _Node:
    def __init__(self) -> None:
        self.peer: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    gc.unfreeze()
    yield
    gc.unfreeze()


def test_freeze_collects_garbage_first_then_freezes_the_survivors(thawed: None) -> None:
    kept, dropped = _Node(), _Node()
    dropped.peer, kept.peer = dropped, _Node()
    gone = weakref.ref(dropped)
    del dropped  # a cycle only the collector can free: frozen, it would leak for good

    frozen = freeze_startup_heap()

    assert gone() is None
    assert frozen == gc.get_freeze_count() > 0
    assert not any(obj is kept for obj in gc.get_objects())  # out of every generation

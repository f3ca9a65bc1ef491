"""The serving process's memory policy: collections paid for by attachment bytes."""

from __future__ import annotations

import gc

import pytest
import trio
from trio.testing import MockClock

from robolearn._memory import GarbageBudget, collect_when_idle, trim_malloc, tune_malloc


class _Cycle:
    def __init__(self) -> None:
        self.me = self
        self.payload = bytearray(1 << 20)


@pytest.fixture
def no_automatic_collection() -> object:
    gc.collect()
    gc.disable()
    yield
    gc.enable()


def test_a_spent_budget_collects_the_cycles_turns_left(no_automatic_collection: object) -> None:
    budget = GarbageBudget(limit=100)
    _Cycle()  # garbage only the cyclic collector can free
    budget.spent(60)
    assert budget.collect_if_due() is None  # not yet
    budget.spent(60)
    freed = budget.collect_if_due()
    assert freed is not None and freed >= 1
    assert budget.collections == 1
    assert budget.collect_if_due() is None  # spent again from zero


def test_the_idle_collection_sweeps_what_the_last_turns_left(
    no_automatic_collection: object,
) -> None:
    budget = GarbageBudget(limit=100)
    budget.spent(150)
    assert budget.collect_if_due() is not None
    budget.spent(10)  # a turn that ran on after that collection
    _Cycle()
    assert budget.collect_if_due() is None
    assert budget.collect_if_due(idle=True) is not None
    assert budget.collect_if_due(idle=True) is None  # nothing read since


async def test_the_idle_collector_runs_on_its_interval(
    autojump_clock: MockClock, no_automatic_collection: object
) -> None:
    budget = GarbageBudget(limit=1 << 30)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(collect_when_idle, budget, 10.0)
        budget.spent(1)
        await trio.sleep(9)
        assert budget.collections == 0
        await trio.sleep(2)
        assert budget.collections == 1
        nursery.cancel_scope.cancel()


def test_malloc_tuning_is_harmless() -> None:
    # True on glibc; where there is none it is a no-op that says so.
    assert tune_malloc() in (True, False)
    trim_malloc()


@pytest.fixture
def autojump_clock() -> MockClock:
    return MockClock(autojump_threshold=0)

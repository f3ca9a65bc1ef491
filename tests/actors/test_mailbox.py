"""The Mailbox primitive on its own."""

from __future__ import annotations

import pytest
import trio
from trio.testing import MockClock, assert_checkpoints, wait_all_tasks_blocked

from robolearn.actors._mailbox import Mailbox


async def test_fifo_bounded_and_never_blocking() -> None:
    box: Mailbox[int] = Mailbox(capacity=2)
    box.put_nowait(1)
    box.put_nowait(2)
    with pytest.raises(trio.WouldBlock):
        box.put_nowait(3)
    assert len(box) == 2
    assert box.get_nowait() == 1
    box.put_nowait(3)
    assert [box.get_nowait(), box.get_nowait()] == [2, 3]
    with pytest.raises(trio.WouldBlock):
        box.get_nowait()


async def test_wait_readable_wakes_on_put_and_on_close() -> None:
    box: Mailbox[int] = Mailbox(capacity=1)
    woke: list[str] = []

    async def waiter() -> None:
        await box.wait_readable()
        woke.append("readable")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(waiter)
        await wait_all_tasks_blocked()
        assert woke == []
        box.put_nowait(1)
    assert woke == ["readable"]

    with assert_checkpoints():
        await box.wait_readable()  # already readable: still a checkpoint

    async with trio.open_nursery() as nursery:
        box.get_nowait()
        nursery.start_soon(waiter)
        await wait_all_tasks_blocked()
        assert box.close() == []
    assert woke == ["readable", "readable"]
    assert box.closed
    with pytest.raises(trio.ClosedResourceError):
        box.put_nowait(2)


async def test_wait_is_cancellable_and_leaves_no_waiter(autojump_clock: MockClock) -> None:
    box: Mailbox[int] = Mailbox(capacity=1)
    with trio.move_on_after(0.01):
        await box.wait_readable()
    # A put after the cancelled wait must not try to wake a task that left.
    box.put_nowait(1)
    assert box.get_nowait() == 1


async def test_single_consumer() -> None:
    box: Mailbox[int] = Mailbox(capacity=1)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(box.wait_readable)
        await wait_all_tasks_blocked()
        with pytest.raises(trio.BusyResourceError):
            await box.wait_readable()
        box.put_nowait(1)


def test_drain_and_close_return_leftovers_in_order() -> None:
    box: Mailbox[int] = Mailbox(capacity=5)
    for i in range(3):
        box.put_nowait(i)
    assert box.drain() == [0, 1, 2]
    assert not box.closed
    box.put_nowait(3)
    assert box.close() == [3]
    assert len(box) == 0

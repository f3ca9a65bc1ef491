"""A bounded, single-consumer FIFO queue: the inbox of one actor."""

from __future__ import annotations

from typing import Generic, TypeVar

import attrs
import trio

T = TypeVar("T")


@attrs.define(eq=False)
class Mailbox(Generic[T]):
    """Bounded FIFO with one consumer task, owned by one actor.

    Producers never wait: `put_nowait` either enqueues or raises `trio.WouldBlock`, so a
    full mailbox turns into back-pressure at the edge instead of a blocked request.

    It is lighter than a trio memory channel (no per-side objects, no parking lot): an
    idle actor is mostly this object, and there may be ten thousand of them. For the same
    reason items sit in a list, not a deque (an empty deque costs ~600 bytes): popping
    from the front of a list of at most ``capacity`` items is cheap enough.
    """

    capacity: int
    _items: list[T] = attrs.field(init=False, factory=list)
    _waiter: trio.lowlevel.Task | None = attrs.field(init=False, default=None)
    _closed: bool = attrs.field(init=False, default=False)

    def __len__(self) -> int:
        return len(self._items)

    @property
    def closed(self) -> bool:
        """True once `close` was called; a closed mailbox accepts nothing."""
        return self._closed

    def put_nowait(self, item: T) -> None:
        """Append ``item``; raise `trio.WouldBlock` if full, `ClosedResourceError` if closed."""
        if self._closed:
            raise trio.ClosedResourceError("mailbox is closed")
        if len(self._items) >= self.capacity:
            raise trio.WouldBlock
        self._items.append(item)
        self._wake()

    def get_nowait(self) -> T:
        """Pop the oldest item; raise `trio.WouldBlock` if empty."""
        if not self._items:
            raise trio.WouldBlock
        return self._items.pop(0)

    async def wait_readable(self) -> None:
        """Return once the mailbox holds an item or is closed. Always a checkpoint."""
        if self._items or self._closed:
            await trio.lowlevel.checkpoint()
            return
        await trio.lowlevel.checkpoint_if_cancelled()
        if self._waiter is not None:
            raise trio.BusyResourceError("another task is already waiting on this mailbox")
        self._waiter = trio.lowlevel.current_task()
        await trio.lowlevel.wait_task_rescheduled(self._abort)

    def drain(self) -> list[T]:
        """Remove and return every queued item, oldest first; the mailbox stays open."""
        items, self._items = self._items, []
        return items

    def close(self) -> list[T]:
        """Refuse further items, wake the consumer, and return what was still queued."""
        self._closed = True
        self._wake()
        return self.drain()

    def _wake(self) -> None:
        if self._waiter is not None:
            trio.lowlevel.reschedule(self._waiter)
            self._waiter = None

    def _abort(self, _raise_cancel: trio.lowlevel.RaiseCancelT) -> trio.lowlevel.Abort:
        self._waiter = None
        return trio.lowlevel.Abort.SUCCEEDED

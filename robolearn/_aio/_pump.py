"""Running an asyncio async iterator (a chatkit stream) into trio, in ONE asyncio task.

Its items reach trio in batches, through a plain call or a trio memory channel; cancelling
the trio side lands inside the iterator's own frames, and every task the iterator started
ends with the pump (``_tasks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import math
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import trio
import trio_asyncio

from robolearn._aio._tasks import _pump_tasks, _reap

_T = TypeVar("_T")


class AioStream(Generic[_T]):
    """The trio end of an asyncio async iterator pumped by :func:`open_aio_stream`.

    Iterating yields the items in order and stops when the iterator ends or fails; a failure
    is raised when the ``open_aio_stream`` block exits.
    """

    def __init__(self, receive: trio.MemoryReceiveChannel[list[_T]]) -> None:
        self._receive = receive
        self._batch: deque[_T] = deque()

    def __aiter__(self) -> AioStream[_T]:
        return self

    async def __anext__(self) -> _T:
        while not self._batch:
            try:
                self._batch.extend(await self._receive.receive())
            except trio.EndOfChannel:
                raise StopAsyncIteration from None
        return self._batch.popleft()

    def ready(self) -> list[_T]:
        """The items that have arrived already, without waiting (to pass them on in one go)."""
        items = list(self._batch)
        self._batch.clear()
        while True:
            try:
                items.extend(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return items


class _Batches(Generic[_T]):
    """The pump's side of a stream: items go to ``deliver`` in batches, at most one per ``hold``.

    An item that arrives ``hold`` seconds or more after the last batch went goes at once;
    later ones wait for an asyncio timer (cheap: the bridge's callback queue) and go together.
    One trio wake-up per batch instead of per item. This is the one place that decides when
    a streamed answer's bytes go out; what the stream makes while it holds (`holding`) may as
    well be merged at its source (``robolearn.chat._coalesce`` merges text deltas then).
    """

    def __init__(self, deliver: Callable[[list[_T]], None], hold: float) -> None:
        self._deliver = deliver
        self._hold = hold
        self._pending: list[_T] = []
        self._timer: asyncio.TimerHandle | None = None
        self._last = -math.inf
        self._released = -math.inf
        self._loop = asyncio.get_running_loop()

    def holding(self) -> bool:
        """Whether an item that arrived now would wait for the next batch, or go with one
        that is about to go (`released`)."""
        now = self._loop.time()
        return (
            self._timer is not None
            or now < self._last + self._hold
            or (self._released > self._last and now < self._released + self._hold)
        )

    def released(self) -> None:
        """The stream let go of something for the next batch that has not reached the pump
        yet (it is on its way through chatkit): until a batch goes, or for at most ``hold``
        seconds, what it makes now would go with that one."""
        self._released = self._loop.time()

    def add(self, item: _T) -> None:
        self._pending.append(item)
        if self._timer is not None:
            return
        wait = self._last + self._hold - self._loop.time()
        if wait <= 0:
            self.flush()
        else:
            self._timer = self._loop.call_later(wait, self.flush)

    def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self._pending:
            batch, self._pending = self._pending, []
            self._last = self._loop.time()
            self._deliver(batch)


# The running pump's batches, for the code its iterator runs (in its task, and in the tasks
# that inherit its context).
_batches: contextvars.ContextVar[_Batches[Any] | None] = contextvars.ContextVar(
    "robolearn_pump_batches", default=None
)


def stream_is_held() -> bool:
    """Whether what the stream being pumped makes now would wait for the pump's next batch
    (False outside a pump, or with nothing to hold for)."""
    batches = _batches.get()
    return batches is not None and batches.holding()


def stream_released() -> None:
    """Tell the pump that the stream let go of something, on its way to it: what the stream
    makes meanwhile would only go with that (see `_Batches.released`)."""
    batches = _batches.get()
    if batches is not None:
        batches.released()


async def run_aio_stream(
    make: Callable[[], AsyncIterator[_T]],
    deliver: Callable[[list[_T]], None],
    *,
    hold: float = 0.0,
) -> None:
    """Run the asyncio async iterator ``make()`` in ONE asyncio task, until it ends.

    Its items go to ``deliver`` in batches, in order, as they come: a plain call in the trio
    thread, so it may hand them to trio (``send_nowait`` on a memory channel) but must not
    block. One task, because chatkit's generators set and reset context variables across
    their ``yield``s: driving each ``__anext__`` from a different task breaks the reset.

    ``hold``: items that follow a batch within that many seconds go together (see
    `_Batches`); the first is never held. Nothing is held past the iterator's end.

    The pump never waits on the trio side, so a cancellation always lands inside the
    iterator's own frames. That matters: chatkit persists a partial answer only when
    ``asyncio.CancelledError`` reaches its generator. Cancelled, this returns once the
    iterator and every task it started have finished their cleanup. The iterator's failure
    (or ``deliver``'s) is raised as it is.
    """

    async def pump() -> None:
        owned: set[asyncio.Task[Any]] = set()
        _pump_tasks.set(owned)
        batches = _Batches(deliver, hold)
        _batches.set(batches)
        try:
            async for item in make():
                batches.add(item)
        finally:
            try:
                batches.flush()
            finally:
                await _reap(owned)

    await trio_asyncio.aio_as_trio(pump)()


@asynccontextmanager
async def open_aio_stream(
    make: Callable[[], AsyncIterator[_T]], *, hold: float = 0.0
) -> AsyncIterator[AioStream[_T]]:
    """`run_aio_stream` with the items to read from trio: iterate the `AioStream` yielded.

    Leaving the block early cancels the iterator and waits for its cleanup to finish. Its
    failure is raised when the block exits.
    """
    send, receive = trio.open_memory_channel[list[_T]](math.inf)
    failure: list[Exception] = []

    def deliver(batch: list[_T]) -> None:
        # If the reader left, keep going anyway so the producer finishes its work.
        with contextlib.suppress(trio.BrokenResourceError):
            send.send_nowait(batch)

    async def run() -> None:
        try:
            await run_aio_stream(make, deliver, hold=hold)
        except Exception as exc:
            failure.append(exc)
        finally:
            send.close()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        try:
            yield AioStream(receive)
        finally:
            nursery.cancel_scope.cancel()
    # Raised out here, not from inside the nursery, so callers catch the failure itself
    # rather than an ExceptionGroup wrapping it.
    if failure:
        raise failure[0]

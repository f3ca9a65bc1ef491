"""Running an asyncio async iterator (a chatkit stream) into trio, in ONE asyncio task.

Each item reaches trio as it comes, through a plain call or a trio memory channel; nothing
is held back here (streamed text is batched once, before chatkit: ``chat/_coalesce.py``).
Cancelling the trio side lands inside the iterator's own frames, and every task the
iterator started ends with the pump (``_tasks``).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
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

    def __init__(self, receive: trio.MemoryReceiveChannel[_T]) -> None:
        self._receive = receive

    def __aiter__(self) -> AioStream[_T]:
        return self

    async def __anext__(self) -> _T:
        try:
            return await self._receive.receive()
        except trio.EndOfChannel:
            raise StopAsyncIteration from None


async def run_aio_stream(
    make: Callable[[], AsyncIterator[_T]], deliver: Callable[[_T], None]
) -> None:
    """Run the asyncio async iterator ``make()`` in ONE asyncio task, until it ends.

    Each item goes to ``deliver`` as it comes, in order: a plain call in the trio thread, so
    it may hand the item to trio (``send_nowait`` on a memory channel) but must not block.
    One task, because chatkit's generators set and reset context variables across their
    ``yield``s: driving each ``__anext__`` from a different task breaks the reset.

    The pump never waits on the trio side, so a cancellation always lands inside the
    iterator's own frames. That matters: chatkit persists a partial answer only when
    ``asyncio.CancelledError`` reaches its generator. Cancelled, this returns once the
    iterator and every task it started have finished their cleanup. The iterator's failure
    (or ``deliver``'s) is raised as it is.
    """

    async def pump() -> None:
        owned: set[asyncio.Task[Any]] = set()
        _pump_tasks.set(owned)
        try:
            async for item in make():
                deliver(item)
        finally:
            await _reap(owned)

    await trio_asyncio.aio_as_trio(pump)()


@asynccontextmanager
async def open_aio_stream(make: Callable[[], AsyncIterator[_T]]) -> AsyncIterator[AioStream[_T]]:
    """`run_aio_stream` with the items to read from trio: iterate the `AioStream` yielded.

    Leaving the block early cancels the iterator and waits for its cleanup to finish. Its
    failure is raised when the block exits.
    """
    send, receive = trio.open_memory_channel[_T](math.inf)
    failure: list[Exception] = []

    def deliver(item: _T) -> None:
        # If the reader left, keep going anyway so the producer finishes its work.
        with contextlib.suppress(trio.BrokenResourceError):
            send.send_nowait(item)

    async def run() -> None:
        try:
            await run_aio_stream(make, deliver)
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

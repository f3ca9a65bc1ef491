"""The one bridge between trio and asyncio.

The server runs in a single trio event loop. ``openai-agents`` and chatkit's streaming path are
asyncio code, so they run inside a trio-asyncio loop opened by :func:`open_asyncio_loop`. Every
other module sees trio only; this is the only module that imports :mod:`asyncio` or
:mod:`trio_asyncio`.

The database is reached through psycopg's synchronous pool in worker threads
(:func:`run_sync_in_thread`), never through psycopg's asyncio API, which breaks under
trio-asyncio when psycopg is imported first.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import logging
import math
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import sniffio
import trio
import trio_asyncio

__all__ = [
    "AioStream",
    "open_aio_stream",
    "open_asyncio_loop",
    "pending_asyncio_tasks",
    "run_sync_in_thread",
    "sleep",
]

_T = TypeVar("_T")

_log = logging.getLogger("robolearn.aio")


def _log_only_exception_handler(loop: object, context: dict[str, Any]) -> None:
    # The default handler re-raises errors of orphaned asyncio tasks and tears the shared loop
    # down with them; one stray task must never take the whole server with it.
    exc = context.get("exception")
    _log.error(
        "unhandled asyncio error: %s",
        context.get("message", "no message"),
        exc_info=exc if isinstance(exc, BaseException) else None,
    )


# The tasks started (directly or not) by the stream pump running in this context; see
# _reap_turn_tasks. A context variable, so concurrent pumps never see each other's tasks.
_pump_tasks: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "robolearn_pump_tasks", default=None
)


def _tracking_task_factory(
    loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    owned = _pump_tasks.get()
    if owned is not None:
        owned.add(task)
    return task


@asynccontextmanager
async def open_asyncio_loop() -> AsyncIterator[None]:
    """Host an asyncio loop inside the current trio run for the duration of the block."""
    async with trio_asyncio.open_loop() as loop:
        loop.set_exception_handler(_log_only_exception_handler)
        loop.set_task_factory(_tracking_task_factory)
        yield


async def run_sync_in_thread(fn: Callable[[], _T]) -> _T:
    """Run blocking ``fn`` in a worker thread, from trio or from asyncio code alike.

    The store is called both by trio code (HTTP reads, CLI, tests) and by chatkit inside the
    asyncio loop, so it cannot pick one library's thread API. In trio the call is not abandoned
    on cancellation: a write that started finishes before the caller sees ``Cancelled``.
    """
    if sniffio.current_async_library() == "asyncio":
        # Carry the caller's context variables (log tags, trace context) into the thread, as
        # trio.to_thread does; asyncio's executor would run fn in the loop's context instead.
        return await asyncio.get_running_loop().run_in_executor(
            None, contextvars.copy_context().run, fn
        )
    return await trio.to_thread.run_sync(fn)


async def sleep(seconds: float) -> None:
    """``asyncio.sleep`` for asyncio-side code (models running inside the Agents SDK)."""
    await asyncio.sleep(seconds)


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

    def ready(self) -> list[_T]:
        """The items that have arrived already, without waiting (to pass them on in one go)."""
        items: list[_T] = []
        while True:
            try:
                items.append(self._receive.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return items


@asynccontextmanager
async def open_aio_stream(make: Callable[[], AsyncIterator[_T]]) -> AsyncIterator[AioStream[_T]]:
    """Run the asyncio async iterator ``make()`` in ONE asyncio task; read it from trio.

    One task, because chatkit's generators set and reset context variables across their
    ``yield``s: driving each ``__anext__`` from a different task breaks the reset.

    The pump never waits on the trio side (the channel is unbounded; an answer is bounded),
    so a cancellation always lands inside the iterator's own frames. That matters: chatkit
    persists a partial answer only when ``asyncio.CancelledError`` reaches its generator.
    Leaving the block early cancels the task and waits for its cleanup to finish.
    """
    send, receive = trio.open_memory_channel[_T](math.inf)
    failure: list[Exception] = []

    async def pump() -> None:
        owned: set[asyncio.Task[Any]] = set()
        _pump_tasks.set(owned)
        try:
            async for item in make():
                # If the reader left, keep going anyway so the producer finishes its work.
                with contextlib.suppress(trio.BrokenResourceError):
                    send.send_nowait(item)
        except Exception as exc:
            failure.append(exc)
        finally:
            send.close()
            await _reap(owned)

    async with trio.open_nursery() as nursery:
        nursery.start_soon(trio_asyncio.aio_as_trio(pump))
        try:
            yield AioStream(receive)
        finally:
            nursery.cancel_scope.cancel()
    # Raised out here, not from inside the nursery, so callers catch the failure itself
    # rather than an ExceptionGroup wrapping it.
    if failure:
        raise failure[0]


async def _reap(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel and await the tasks a stream left behind.

    chatkit's event merging starts helper tasks and does not cancel them when its stream is
    cancelled; one waits forever on an internal queue. Every task started under the pump
    ends with the pump, so a turn leaves nothing running.
    """
    current = asyncio.current_task()
    leftovers = [task for task in tasks if task is not current]
    for task in leftovers:
        task.cancel()
    # return_exceptions: their errors belong to the stream that already ended; retrieving
    # them also keeps asyncio from logging "exception was never retrieved".
    await asyncio.gather(*leftovers, return_exceptions=True)


def pending_asyncio_tasks() -> int:
    """How many asyncio tasks are alive in the bridged loop (0 when idle: none leaked)."""
    loop = asyncio.get_event_loop()
    return sum(1 for task in asyncio.all_tasks(loop) if not task.done())

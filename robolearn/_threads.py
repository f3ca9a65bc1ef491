"""Blocking calls in worker threads, from trio or asyncio code alike.

The store reaches PostgreSQL through psycopg's synchronous pool in worker threads
(:func:`run_sync_in_thread`): from trio code, from chatkit's asyncio code under robolearn's
trio-asyncio bridge, and from another ChatKit server's plain asyncio loop.

Apart from ``robolearn._aio``, this is the one module that imports :mod:`asyncio`, and it
must never import :mod:`trio_asyncio`: importing that replaces asyncio's event loop policy
for the whole process (``asyncio.run`` then gets trio-asyncio's loop), which a program that
only uses the store must not suffer. The bridge sets the slots its loop uses here.
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
from collections.abc import Callable
from typing import TypeVar

import anyio.lowlevel
import outcome
import sniffio
import trio

__all__ = ["THREAD_SLOTS", "run_sync_in_thread", "threadsafe_caller"]

_T = TypeVar("_T")

# At most this many asyncio-side thread calls run at once, as trio's default limiter allows
# trio callers; the rest wait for a slot here instead of each parking a thread on the pool.
THREAD_SLOTS = 40
_thread_slots: contextvars.ContextVar[asyncio.Semaphore | None] = contextvars.ContextVar(
    "robolearn_thread_slots", default=None
)


async def run_sync_in_thread(fn: Callable[[], _T]) -> _T:
    """Run blocking ``fn`` in a worker thread, from trio or from asyncio code alike.

    The store is called both by trio code (HTTP reads, CLI, tests) and by chatkit inside the
    asyncio loop, so it cannot pick one library's thread API; another ChatKit server calls it
    from plain asyncio. Either way the call is not abandoned on cancellation: a write that
    started finishes before the caller sees it. At most `THREAD_SLOTS` asyncio-side calls run
    at once per loop.
    """
    if sniffio.current_async_library() == "asyncio":
        slots = _thread_slots.get()
        if slots is None:
            # A loop not opened by open_asyncio_loop: plain asyncio (another ChatKit server
            # using the store). The same bound, kept per loop.
            slots = _plain_loop_slots()
        await slots.acquire()
        return await _run_sync_in_thread_from_asyncio(fn, slots.release)
    return await trio.to_thread.run_sync(fn)


# The thread slots of each plain asyncio loop (a run variable: one per loop, gone with it).
_plain_slots: anyio.lowlevel.RunVar[asyncio.Semaphore] = anyio.lowlevel.RunVar(
    "robolearn_plain_thread_slots"
)


def _plain_loop_slots() -> asyncio.Semaphore:
    try:
        return _plain_slots.get()
    except LookupError:
        slots = asyncio.Semaphore(THREAD_SLOTS)
        _plain_slots.set(slots)
        return slots


def threadsafe_caller() -> Callable[[Callable[[], object]], None]:
    """A function that has ``fn()`` called soon in the running event loop, from any thread.

    The loop is trio's or a plain asyncio one, whichever runs the caller. Once that loop has
    ended, calls are dropped.
    """
    if sniffio.current_async_library() == "asyncio":
        loop = asyncio.get_running_loop()

        def call_in_asyncio(fn: Callable[[], object]) -> None:
            with contextlib.suppress(RuntimeError):  # the loop is closed
                loop.call_soon_threadsafe(fn)

        return call_in_asyncio
    token = trio.lowlevel.current_trio_token()

    def call_in_trio(fn: Callable[[], object]) -> None:
        with contextlib.suppress(trio.RunFinishedError):
            token.run_sync_soon(fn)

    return call_in_trio


async def _run_sync_in_thread_from_asyncio(
    fn: Callable[[], _T], finished: Callable[[], None]
) -> _T:
    # Not loop.run_in_executor: trio-asyncio runs that as a trio task behind an asyncio
    # future, and each call leaves a reference cycle (handle, cancel closure, future, the
    # query's arguments and result) that only a full collection frees; at three queries a
    # turn that was half of all cyclic garbage. Here: trio's thread cache (no trio task), a
    # plain future, and the result handed back through call_soon_threadsafe.
    loop = asyncio.get_running_loop()
    done: asyncio.Future[outcome.Outcome[_T]] = loop.create_future()
    # The caller's context variables (log tags, trace context) go along, as with trio.to_thread.
    context = contextvars.copy_context()

    def settle(result: outcome.Outcome[_T]) -> None:
        # The thread is done, so its slot is free now, not once the caller has resumed: on a
        # busy server that is a few scheduler rounds later, and queries queued for slots.
        finished()
        if not done.done():
            done.set_result(result)

    def deliver(result: outcome.Outcome[_T]) -> None:
        # In the worker thread. A closed loop means nobody waits for this any more.
        with contextlib.suppress(RuntimeError):
            loop.call_soon_threadsafe(settle, result)

    try:
        trio.lowlevel.start_thread_soon(lambda: context.run(fn), deliver)
    except BaseException:
        finished()
        raise
    try:
        result = await asyncio.shield(done)
    except asyncio.CancelledError:
        while not done.done():
            with contextlib.suppress(asyncio.CancelledError):
                await asyncio.shield(done)
        raise
    return result.unwrap()

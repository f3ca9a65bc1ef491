"""Runs on the asyncio side of the bridge: trio-asyncio's loop, scheduling its callbacks as
asyncio's own loop does.

The code of the ``scheduler`` and ``call-soon`` patches; ``robolearn._patches._trio_asyncio``
says why they exist and what they gained, checks the installed trio-asyncio, and decides
which of them each loop gets (`patching_open_loop`).
"""

from __future__ import annotations

import asyncio
import heapq
import importlib
from collections import deque
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Any

import sniffio
import trio
import trio_asyncio as trio_asyncio  # re-exported: the module the patches swap `open_loop` in

__all__ = [
    "CallbackQueue",
    "async_handle_class",
    "loop_class",
    "patching_open_loop",
    "schedule_without_checks",
    "trio_asyncio",
    "use_callback_queue",
]

OpenLoop = Callable[..., AbstractAsyncContextManager[Any]]


def loop_class() -> type[Any]:
    """trio-asyncio's loop class, whose internals the patches use."""
    loop: type[Any] = trio_asyncio.TrioEventLoop
    return loop


def async_handle_class() -> type[asyncio.Handle] | None:
    """trio-asyncio's ``AsyncHandle`` (a trio task to start), or None if it has none."""
    try:
        handle: type[asyncio.Handle] = importlib.import_module("trio_asyncio._handles").AsyncHandle
    except (ImportError, AttributeError):
        return None
    return handle


def patching_open_loop(
    open_stock_loop: OpenLoop,
    *,
    scheduler: bool,
    call_soon: bool,
    async_handle: type[asyncio.Handle],
) -> OpenLoop:
    """``trio_asyncio.open_loop``, patching each loop it opens as asked."""

    @asynccontextmanager
    async def open_loop(queue_len: int | None = None) -> AsyncIterator[Any]:
        async with open_stock_loop(queue_len) as loop:
            if scheduler:
                use_callback_queue(loop, async_handle)
            if call_soon and not loop.get_debug():
                schedule_without_checks(loop)
            yield loop

    return open_loop


class CallbackQueue:
    """trio-asyncio's callback queue and loop step, rewritten to work like asyncio's own loop.

    Callbacks go into a deque and each step runs every callback that was ready when it began
    (queued ones in order, then due timers) and yields to trio once, as one iteration of
    asyncio's loop does. Callbacks queued while a batch runs wait for the next one, so trio
    tasks get a turn in between.

    It stands in for the loop's ``_q_send`` (everything that schedules a callback, from any
    path, calls its ``send_nowait`` in the trio thread) and ``_main_loop_one``, and keeps the
    latter's contract: ``no_wait`` never blocks and raises ``trio.WouldBlock`` once nothing is
    left (the loop's shutdown drain relies on that), and a stop request raised by a callback
    leaves the rest of its batch queued, for that drain.

    ``async_handle``: trio-asyncio's ``AsyncHandle`` class (a trio task to start), looked up
    at install time so that a trio-asyncio without it fails startup, not import.
    """

    def __init__(self, loop: Any, async_handle: type[asyncio.Handle]) -> None:
        self._loop = loop
        self._async_handle = async_handle
        self._ready: deque[asyncio.Handle] = deque()
        self._timers: list[asyncio.TimerHandle] = loop._timers
        self._idle = trio.lowlevel.ParkingLot()

    def send_nowait(self, handle: asyncio.Handle) -> None:
        if isinstance(handle, asyncio.TimerHandle):
            heapq.heappush(self._timers, handle)
        else:
            self._ready.append(handle)
        if self._idle:
            self._idle.unpark_all()

    async def step(self, no_wait: bool = False) -> None:
        self._move_due_timers()
        if self._ready:
            if not no_wait:
                # The loop task runs shielded anyway: this is only the yield to trio.
                await trio.lowlevel.cancel_shielded_checkpoint()
        elif no_wait:
            raise trio.WouldBlock
        else:
            await self._wait_for_work()
            self._move_due_timers()
        await self._run_batch(len(self._ready))

    def _move_due_timers(self) -> None:
        timers = self._timers
        if timers:
            now = self._loop.time()
            while timers and timers[0].when() <= now:
                self._ready.append(heapq.heappop(timers))

    async def _wait_for_work(self) -> None:
        if not self._timers:
            await self._idle.park()
            return
        # Loop time is trio's clock; a deadline already past (the clock moved on since the
        # timers were checked) just returns at once.
        with trio.move_on_at(self._timers[0].when()):
            await self._idle.park()

    async def _run_batch(self, count: int) -> None:
        ready, async_handle = self._ready, self._async_handle
        while count:
            if isinstance(ready[0], async_handle):
                # A trio task to start (trio_as_aio, executors): as stock trio-asyncio does.
                handle: Any = ready.popleft()
                count -= 1
                handle._context.run(
                    self._loop._nursery.start_soon, handle._run, name=handle._callback
                )
                await handle._started.wait()
            else:
                count = self._run_callbacks(count)

    def _run_callbacks(self, count: int) -> int:
        """Run plain callbacks up to the next trio task start; how many are left to run."""
        ready, async_handle = self._ready, self._async_handle
        previous, sniffio.thread_local.name = sniffio.thread_local.name, "asyncio"
        try:
            while count and not isinstance(ready[0], async_handle):
                handle = ready.popleft()
                count -= 1
                if not handle._cancelled:
                    handle._run()
        finally:
            sniffio.thread_local.name = previous
        return count


def use_callback_queue(loop: Any, async_handle: type[asyncio.Handle]) -> None:
    """Replace ``loop``'s callback channel and step with a :class:`CallbackQueue`."""
    queue = CallbackQueue(loop, async_handle)
    old_send, old_receive = loop._q_send, loop._q_recv
    while True:
        try:
            queue.send_nowait(old_receive.receive_nowait())
        except trio.WouldBlock:
            break
    loop._q_send = queue
    loop._main_loop_one = queue.step
    # The stock step may be waiting on the old channel already: one no-op wakes it, and
    # from its next round on the loop runs ours.
    old_send.send_nowait(asyncio.Handle(lambda: None, (), loop))


def schedule_without_checks(loop: Any) -> None:
    """asyncio's own ``call_soon``/``call_at``/``call_later``, straight onto the loop's queue
    (a :class:`CallbackQueue`, or trio-asyncio's channel without the ``scheduler`` patch)."""
    send = loop._q_send.send_nowait
    check_closed = loop._check_closed

    def call_soon(callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        check_closed()
        handle = asyncio.Handle(callback, args, loop, context)
        send(handle)
        return handle

    def call_at(when: float, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        check_closed()
        handle = asyncio.TimerHandle(when, callback, args, loop, context)
        send(handle)
        return handle

    def call_later(delay: float, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        return call_at(loop.time() + delay, callback, *args, context=context)

    loop.call_soon, loop.call_at, loop.call_later = call_soon, call_at, call_later

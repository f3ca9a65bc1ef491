"""The bridged loop's callback scheduling, in place of trio-asyncio's own.

Stock trio-asyncio runs one asyncio callback per trip through trio's scheduler; this runs a
batch per trip, as asyncio's own loop does (see :class:`_CallbackQueue` for the cost it saves).
It replaces private trio-asyncio internals, checked against 0.16, and falls back to stock
behaviour with a warning when they change.
"""

from __future__ import annotations

import asyncio
import heapq
import logging
from collections import deque
from typing import Any

import sniffio
import trio
from trio_asyncio._handles import AsyncHandle

_log = logging.getLogger("robolearn.aio")


class _CallbackQueue:
    """trio-asyncio's callback queue and loop step, rewritten to work like asyncio's own loop.

    Stock trio-asyncio sends every asyncio callback through a trio memory channel and runs ONE
    per trip through trio's scheduler, each in a fresh ``move_on_after`` scope. With a hundred
    streams that is a channel send, a trio reschedule and a cancel scope for every step of
    every task, the largest single cost of a turn. Here callbacks go into a deque and each
    step runs every callback that was ready when it began (queued ones in order, then due
    timers) and yields to trio once, as one iteration of asyncio's loop does. Callbacks
    queued while a batch runs wait for the next one, so trio tasks get a turn in between.

    It stands in for the loop's ``_q_send`` (everything that schedules a callback, from any
    path, calls its ``send_nowait`` in the trio thread) and ``_main_loop_one``, and keeps the
    latter's contract: ``no_wait`` never blocks and raises ``trio.WouldBlock`` once nothing is
    left (the loop's shutdown drain relies on that), and a stop request raised by a callback
    leaves the rest of its batch queued, for that drain.
    """

    def __init__(self, loop: Any) -> None:
        self._loop = loop
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
        ready = self._ready
        while count:
            if isinstance(ready[0], AsyncHandle):
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
        ready = self._ready
        previous, sniffio.thread_local.name = sniffio.thread_local.name, "asyncio"
        try:
            while count and not isinstance(ready[0], AsyncHandle):
                handle = ready.popleft()
                count -= 1
                if not handle._cancelled:
                    handle._run()
        finally:
            sniffio.thread_local.name = previous
        return count


_TRIO_ASYNCIO_INTERNALS = ("_q_send", "_q_recv", "_timers", "_nursery", "_main_loop_one")


def _use_callback_queue(loop: Any) -> None:
    # Private trio-asyncio internals (checked against 0.16): if they change, stay stock.
    if not all(hasattr(loop, name) for name in _TRIO_ASYNCIO_INTERNALS):
        _log.warning("trio-asyncio internals changed: asyncio callbacks run one at a time")
        return
    queue = _CallbackQueue(loop)
    old_send, old_receive = loop._q_send, loop._q_recv
    while True:
        try:
            queue.send_nowait(old_receive.receive_nowait())
        except trio.WouldBlock:
            break
    loop._q_send = queue
    loop._main_loop_one = queue.step
    if not loop.get_debug():
        _schedule_without_checks(loop, queue)
    # The stock step may be waiting on the old channel already: one no-op wakes it, and
    # from its next round on the loop runs ours.
    old_send.send_nowait(asyncio.Handle(lambda: None, (), loop))


def _schedule_without_checks(loop: Any, queue: _CallbackQueue) -> None:
    """asyncio's own ``call_soon``/``call_at``/``call_later``, straight onto ``queue``.

    asyncio checks that a callback is not a coroutine (an ``inspect`` call) only in debug mode;
    trio-asyncio checks on every call, and every finished future and every task step is one:
    3% of a busy server's CPU.
    """

    def call_soon(callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        loop._check_closed()
        handle = asyncio.Handle(callback, args, loop, context)
        queue.send_nowait(handle)
        return handle

    def call_at(when: float, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        loop._check_closed()
        handle = asyncio.TimerHandle(when, callback, args, loop, context)
        queue.send_nowait(handle)
        return handle

    def call_later(delay: float, callback: Any, *args: Any, context: Any = None) -> asyncio.Handle:
        return call_at(loop.time() + delay, callback, *args, context=context)

    loop.call_soon, loop.call_at, loop.call_later = call_soon, call_at, call_later

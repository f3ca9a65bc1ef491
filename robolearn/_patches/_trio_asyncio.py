"""trio-asyncio: the loop's callback scheduling, as asyncio's own loop does it.

chatkit and the Agents SDK run on trio-asyncio's loop inside the server's trio run
(``robolearn._aio``), and every step of every asyncio task, every finished future, is a
callback of that loop. Two patches, both made to each loop as ``trio_asyncio.open_loop``
opens it (the one attribute they replace):

``scheduler``
    Stock trio-asyncio sends every callback through a trio memory channel and runs ONE per
    trip through trio's scheduler, each in a fresh ``move_on_after`` scope: with a hundred
    streams, a channel send, a reschedule and a cancel scope for every step of every task.
    :class:`CallbackQueue` runs a batch per trip, as one iteration of asyncio's loop does.
    Gain: no A/B figure of its own was recorded (commit 52b8303); py-spy put trio's
    scheduler and trio-asyncio's callback dispatch at about a third of the CPU before
    (README at 592a691) and the hop per callback at 3-4% of samples after (10328a1, 8de4579).
``call-soon``
    trio-asyncio checks every callback for being a coroutine (an ``inspect`` call) on every
    ``call_soon``/``call_at``/``call_later``; asyncio does that only in debug mode. The loop
    gets asyncio's own, straight onto its queue. Gain: CPU per message at 100 streams
    20.0 -> 14.9 ms in interleaved runs (commit 5679978).

Both replace private internals (``_q_send``, ``_q_recv``, ``_main_loop_one``, ``_timers``,
``_nursery``, ``_check_closed``, ``trio_asyncio._handles.AsyncHandle``), verified on
trio-asyncio 0.16. Upstream report: docs/upstream.md.
"""

from __future__ import annotations

import asyncio
import heapq
import importlib
from collections import deque
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import sniffio
import trio
import trio_asyncio

from ._core import Library, Patches, set_in_init, stock, swap

__all__ = ["LIBRARY", "CallbackQueue", "install"]

SCHEDULER = "scheduler"
CALL_SOON = "call-soon"

LIBRARY = Library("trio-asyncio", (SCHEDULER, CALL_SOON), lowest=(0, 16), below=(0, 17))

# What the patches replace or use of trio-asyncio's loop: attributes its __init__ sets, and
# methods or class attributes.
_SET_IN_INIT = ("_q_send", "_q_recv", "_timers")
_ON_THE_CLASS = ("_nursery", "_main_loop_one", "_check_closed")


def install(patches: Patches) -> None:
    """Have ``trio_asyncio.open_loop`` patch each loop it opens (or stop doing so)."""
    scheduler, call_soon = SCHEDULER in patches, CALL_SOON in patches
    if not (scheduler or call_soon):
        swap(trio_asyncio, "open_loop", None)
        return
    async_handle = _check_internals(LIBRARY.check_version())
    open_stock_loop = stock(trio_asyncio, "open_loop")

    @asynccontextmanager
    async def open_loop(queue_len: int | None = None) -> AsyncIterator[Any]:
        async with open_stock_loop(queue_len) as loop:
            if scheduler:
                use_callback_queue(loop, async_handle)
            if call_soon and not loop.get_debug():
                schedule_without_checks(loop)
            yield loop

    swap(trio_asyncio, "open_loop", open_loop)


def _check_internals(version: str) -> type[asyncio.Handle]:
    """trio-asyncio's ``AsyncHandle``, once every internal the patches need is found."""
    loop_class = trio_asyncio.TrioEventLoop
    assigned = set_in_init(loop_class)
    missing = [f"TrioEventLoop().{name}" for name in _SET_IN_INIT if name not in assigned]
    missing += [f"TrioEventLoop.{name}" for name in _ON_THE_CLASS if not hasattr(loop_class, name)]
    try:
        async_handle: type[asyncio.Handle] = importlib.import_module(
            "trio_asyncio._handles"
        ).AsyncHandle
    except (ImportError, AttributeError):
        missing.append("trio_asyncio._handles.AsyncHandle")
    LIBRARY.require(version, missing)
    return async_handle


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

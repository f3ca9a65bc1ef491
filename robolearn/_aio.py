"""The one bridge between trio and asyncio.

The server runs in a single trio event loop. ``openai-agents`` and chatkit's streaming path are
asyncio code, so they run inside a trio-asyncio loop opened by :func:`open_asyncio_loop`. Every
other module sees trio (the store's reusable part anyio, so that it runs on plain asyncio
too); this is the only module that imports :mod:`trio_asyncio`, and with
:mod:`robolearn._threads` the only one that imports :mod:`asyncio`.

The database is reached through psycopg's synchronous pool in worker threads
(``robolearn._threads.run_sync_in_thread``), never through psycopg's asyncio API, which
breaks under trio-asyncio when psycopg is imported first. The bridge bounds how many of those
calls its asyncio side runs at once (``THREAD_SLOTS``).
"""

from __future__ import annotations

import asyncio
import contextlib
import contextvars
import functools
import heapq
import logging
import math
import sys
from collections import deque
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, Generic, TypeVar

import outcome
import sniffio
import trio
import trio_asyncio
from trio_asyncio._handles import AsyncHandle

from robolearn._threads import THREAD_SLOTS, _thread_slots

__all__ = [
    "AioStream",
    "loop_time",
    "merge_in_step",
    "new_queue",
    "open_aio_stream",
    "open_asyncio_loop",
    "pending_asyncio_tasks",
    "run_aio",
    "run_aio_stream",
    "sleep",
    "spawn",
    "wait_at_most",
]

_T = TypeVar("_T")

_log = logging.getLogger("robolearn.aio")


def _repoint_early_imports() -> None:
    """Give modules imported before trio_asyncio its ``get_running_loop``.

    trio_asyncio replaces ``asyncio.get_running_loop`` when it is imported; a module that took
    ``from asyncio import get_running_loop`` earlier keeps asyncio's own, which does not see a
    trio-asyncio loop ("no running event loop"). anyio's asyncio backend is one: the openai
    client's HTTP transport (httpx2 on anyio) then fails on every request. It is loaded early
    whenever anyio's pytest plugin is installed, or by any earlier import of anyio under
    asyncio. (psycopg does the same; the store avoids its asyncio API, see the module doc.)
    """
    backend: Any = sys.modules.get("anyio._backends._asyncio")
    if backend is not None and backend.get_running_loop is not asyncio.get_running_loop:
        backend.get_running_loop = asyncio.get_running_loop


_repoint_early_imports()


def _log_only_exception_handler(loop: object, context: dict[str, Any]) -> None:
    # The default handler re-raises errors of orphaned asyncio tasks and tears the shared loop
    # down with them; one stray task must never take the whole server with it.
    exc = context.get("exception")
    _log.error(
        "unhandled asyncio error: %s",
        context.get("message", "no message"),
        exc_info=exc if isinstance(exc, BaseException) else None,
    )


# The unfinished tasks started (directly or not) by the stream pump running in this context;
# see _reap. A context variable, so concurrent pumps never see each other's tasks.
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
        task.add_done_callback(functools.partial(_settled, owned))
    return task


def _settled(owned: set[asyncio.Task[Any]], task: asyncio.Task[Any]) -> None:
    # Dropped at once: a turn starts a task per streamed event, and holding every finished
    # one (with its result and context) until the turn ended made each stream in flight
    # keep thousands of objects alive, all of them scanned by every full collection.
    owned.discard(task)
    if not task.cancelled():
        # Retrieved, so asyncio does not log "exception was never retrieved" for a helper
        # whose error belongs to a stream that already failed or ended.
        task.exception()


@asynccontextmanager
async def open_asyncio_loop() -> AsyncIterator[None]:
    """Host an asyncio loop inside the current trio run for the duration of the block."""
    async with trio_asyncio.open_loop() as loop:
        loop.set_exception_handler(_log_only_exception_handler)
        loop.set_task_factory(_tracking_task_factory)
        _use_callback_queue(loop)
        slots = _thread_slots.set(asyncio.Semaphore(THREAD_SLOTS))
        try:
            yield
        finally:
            _thread_slots.reset(slots)


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


async def run_aio(fn: Callable[[], Awaitable[_T]]) -> _T:
    """Await the asyncio coroutine ``fn()`` from trio code (e.g. closing an asyncio client)."""
    result: _T = await trio_asyncio.aio_as_trio(fn)()
    return result


def spawn(coroutine: Awaitable[_T]) -> Awaitable[_T]:
    """Start ``coroutine`` as an asyncio task, from asyncio-side code, to await it later.

    Started under a stream pump, it ends with the pump at the latest (see `_reap`).
    """
    return asyncio.ensure_future(coroutine)


async def wait_at_most(seconds: float, awaitable: Awaitable[_T]) -> _T | None:
    """``awaitable``'s result, or None (and it cancelled) if it takes over ``seconds``."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        return None


def new_queue() -> asyncio.Queue[Any]:
    """An empty unbounded ``asyncio.Queue``, for asyncio-side code that needs a fresh one."""
    return asyncio.Queue()


async def sleep(seconds: float) -> None:
    """``asyncio.sleep`` for asyncio-side code (models running inside the Agents SDK)."""
    await asyncio.sleep(seconds)


def loop_time() -> float:
    """The running asyncio loop's clock (trio's, under the bridge), for asyncio-side code."""
    return asyncio.get_running_loop().time()


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
    One trio wake-up per batch instead of per item.
    """

    def __init__(self, deliver: Callable[[list[_T]], None], hold: float) -> None:
        self._deliver = deliver
        self._hold = hold
        self._pending: list[_T] = []
        self._timer: asyncio.TimerHandle | None = None
        self._last = -math.inf
        self._loop = asyncio.get_running_loop()

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


_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")


async def merge_in_step(a: AsyncIterator[_T1], b: AsyncIterator[_T2]) -> AsyncIterator[_T1 | _T2]:
    """Items of ``a`` and ``b`` as they come, until either ends: chatkit's ``_merge_generators``
    with one task per source instead of one per item.

    chatkit merges the agent's events with those its tools emit by starting a task for every
    ``__anext__``: a task, a ``wait`` and their callbacks per streamed event. Here each source
    has one task for the whole merge, and the same rules hold: a source is asked for its next
    item only once its last one has been taken (so neither runs ahead of the reader), items
    come in the order they arrived, a source's error is raised when its turn comes, and when
    one source ends, an item the other already had is still passed on. Leaving early (error,
    cancellation) cancels both tasks.
    """
    loop = asyncio.get_running_loop()
    arrived: deque[tuple[int, outcome.Outcome[Any] | None]] = deque()  # None: it ended
    waiting: asyncio.Future[None] | None = None  # the reader's, while it waits for an item
    asked: list[asyncio.Future[None] | None] = [None, None]

    async def pull(index: int, source: AsyncIterator[Any]) -> None:
        while True:
            result: outcome.Outcome[Any] | None
            try:
                result = outcome.Value(await source.__anext__())
            except StopAsyncIteration:
                result = None
            except BaseException as exc:  # CancelledError too: the reader must hear of it
                result = outcome.Error(exc)
            arrived.append((index, result))
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            if not isinstance(result, outcome.Value):
                return
            asked[index] = ask = loop.create_future()
            await ask

    pullers = [asyncio.ensure_future(pull(0, a)), asyncio.ensure_future(pull(1, b))]
    try:
        while True:
            while not arrived:
                waiting = loop.create_future()
                await waiting
            index, result = arrived.popleft()
            if result is None:
                for _, other in arrived:
                    if other is not None:
                        yield other.unwrap()
                return
            yield result.unwrap()
            next_please = asked[index]
            # Done already only if its task was cancelled from outside (the pump's reaping).
            if next_please is not None and not next_please.done():
                next_please.set_result(None)
    finally:
        for puller in pullers:
            puller.cancel()


async def _reap(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel and await the tasks a stream left behind.

    chatkit's event merging starts helper tasks and does not cancel them when its stream is
    cancelled; one waits forever on an internal queue. Every task started under the pump
    ends with the pump, so a turn leaves nothing running.
    """
    current = asyncio.current_task()
    leftovers = [task for task in tasks if task is not current]  # finished ones left already
    for task in leftovers:
        task.cancel()
    # return_exceptions: their errors belong to the stream that already ended; retrieving
    # them also keeps asyncio from logging "exception was never retrieved".
    await asyncio.gather(*leftovers, return_exceptions=True)


def pending_asyncio_tasks() -> int:
    """How many asyncio tasks are alive in the bridged loop (0 when idle: none leaked)."""
    loop = asyncio.get_event_loop()
    return sum(1 for task in asyncio.all_tasks(loop) if not task.done())

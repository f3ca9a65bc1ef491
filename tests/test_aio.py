"""The asyncio bridge: asyncio's scheduling rules hold on robolearn's callback queue."""

from __future__ import annotations

import asyncio
import contextvars
import gc
import threading
import types
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import trio
import trio.lowlevel
import trio.testing
import trio_asyncio

from robolearn import _aio, _threads
from robolearn._aio._merge import merge_in_step
from robolearn._aio._scheduler import CallbackQueue

from ._plain_asyncio import run_on_plain_asyncio


def _loop() -> asyncio.AbstractEventLoop:
    return asyncio.get_event_loop()


async def test_the_batched_callback_queue_is_installed() -> None:
    # The session installs every patch (tests/conftest.py), as `robolearn serve` does: the
    # tests below check the patched loop.
    async with _aio.open_asyncio_loop():
        assert type(_loop()._q_send) is CallbackQueue  # type: ignore[attr-defined]
        # And scheduling skips trio-asyncio's per-call coroutine check, as asyncio does.
        for name in ("call_soon", "call_at", "call_later"):
            assert "schedule_without_checks" in getattr(_loop(), name).__qualname__


async def test_scheduled_callbacks_get_their_arguments_and_context() -> None:
    var: contextvars.ContextVar[str] = contextvars.ContextVar("var", default="unset")
    seen: list[tuple[str, str, str]] = []
    async with _aio.open_asyncio_loop():
        loop = _loop()
        done = trio.Event()

        def note(how: str, arg: str) -> None:
            seen.append((how, arg, var.get()))

        context = contextvars.copy_context()
        context.run(var.set, "given")
        loop.call_soon(note, "soon", "a", context=context)
        loop.call_later(0.01, note, "later", "b", context=context)
        loop.call_at(loop.time() + 0.02, note, "at", "c")
        loop.call_later(0.03, done.set)
        await done.wait()
    assert seen == [("soon", "a", "given"), ("later", "b", "given"), ("at", "c", "unset")]


async def test_scheduling_on_a_closed_loop_is_refused() -> None:
    async with _aio.open_asyncio_loop():
        loop = _loop()
    with pytest.raises(RuntimeError):
        loop.call_soon(print)


async def test_callbacks_run_in_the_order_they_were_scheduled() -> None:
    ran: list[str] = []
    async with _aio.open_asyncio_loop():
        loop = _loop()
        done = trio.Event()

        def first() -> None:
            ran.append("first")
            # Scheduled while a batch runs: after everything already queued.
            loop.call_soon(ran.append, "scheduled by first")
            loop.call_soon(done.set)

        loop.call_soon(first)
        loop.call_soon(ran.append, "second")
        loop.call_soon(ran.append, "third")
        await done.wait()
    assert ran == ["first", "second", "third", "scheduled by first"]


async def test_timers_fire_in_deadline_order_at_their_time() -> None:
    fired: list[tuple[str, float]] = []
    async with _aio.open_asyncio_loop():
        loop = _loop()
        done = trio.Event()
        start = trio.current_time()

        def note(name: str) -> None:
            fired.append((name, round(trio.current_time() - start, 3)))

        loop.call_later(0.3, note, "late")
        loop.call_later(0.1, note, "early")
        cancelled = loop.call_later(0.2, note, "cancelled")
        loop.call_later(0.4, done.set)
        cancelled.cancel()
        await done.wait()
    assert [name for name, _ in fired] == ["early", "late"]
    assert all(at >= expected for (_, at), expected in zip(fired, [0.1, 0.3], strict=True))


async def test_asyncio_sleep_and_tasks_work_with_a_mock_clock(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def ticker(n: int) -> list[float]:
        times = []
        for _ in range(n):
            await asyncio.sleep(10)
            times.append(asyncio.get_running_loop().time())
        return times

    async with _aio.open_asyncio_loop():
        start = trio.current_time()
        times = await trio_asyncio.aio_as_trio(ticker)(3)
    assert [round(t - start) for t in times] == [10, 20, 30]


async def test_a_callback_from_another_thread_wakes_an_idle_loop() -> None:
    async with _aio.open_asyncio_loop():
        loop = _loop()
        woke = trio.Event()
        thread = threading.Thread(target=loop.call_soon_threadsafe, args=(woke.set,))
        await trio.testing.wait_all_tasks_blocked()  # the loop is idle first
        thread.start()
        with trio.fail_after(5):
            await woke.wait()
        thread.join()


async def test_executor_calls_start_their_trio_task() -> None:
    async def in_thread() -> int:
        return await asyncio.get_running_loop().run_in_executor(None, sum, [1, 2, 3])

    async with _aio.open_asyncio_loop():
        with trio.fail_after(5):
            assert await trio_asyncio.aio_as_trio(in_thread)() == 6


async def test_a_busy_asyncio_loop_does_not_starve_trio_tasks() -> None:
    trio_rounds = 0
    asyncio_rounds = 0
    async with _aio.open_asyncio_loop():
        loop = _loop()
        stop = False

        def spin() -> None:
            # A callback that always reschedules itself: asyncio always has work.
            nonlocal asyncio_rounds
            asyncio_rounds += 1
            if not stop:
                loop.call_soon(spin)

        loop.call_soon(spin)
        for _ in range(100):
            await trio.lowlevel.checkpoint()
            trio_rounds += 1
        stop = True
    assert trio_rounds == 100
    # One asyncio iteration per trio round, give or take the start.
    assert 50 <= asyncio_rounds <= 300


async def test_callbacks_scheduled_before_the_loop_closes_still_run() -> None:
    ran: list[int] = []
    async with _aio.open_asyncio_loop():
        loop = _loop()
        for n in range(5):
            loop.call_soon(ran.append, n)
    assert ran == [0, 1, 2, 3, 4]


async def test_waiting_for_a_timer_already_due_returns_at_once() -> None:
    # The clock moves on between checking the timers and waiting for the first one: a wait
    # computed as "deadline - now" went negative and crashed the loop (and the server).
    async with _aio.open_asyncio_loop():
        due = asyncio.TimerHandle(trio.current_time() - 1, lambda: None, (), _loop())
    loop = types.SimpleNamespace(_timers=[due], time=trio.current_time)
    queue = CallbackQueue(loop, asyncio.Handle)
    with trio.fail_after(1):
        await queue._wait_for_work()


def _every_second(
    last: int, before_each: Callable[[], None] = lambda: None
) -> Callable[[], AsyncIterator[int]]:
    """A stream of 1, 2, ... ``last``, one item a second; ``before_each`` runs in the stream
    just before it yields an item."""

    async def items() -> AsyncIterator[int]:
        for n in range(1, last + 1):
            await asyncio.sleep(1)
            before_each()
            yield n

    return items


async def test_a_held_stream_hands_items_over_in_batches_and_never_holds_the_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    groups: list[tuple[float, list[int]]] = []
    async with _aio.open_asyncio_loop():
        start = trio.current_time()
        async with _aio.open_aio_stream(_every_second(10), hold=3.25) as stream:
            async for first in stream:
                groups.append((trio.current_time() - start, [first, *stream.ready()]))
    assert groups == [(1, [1]), (4.25, [2, 3, 4]), (7.5, [5, 6, 7]), (10, [8, 9, 10])]


async def test_an_unheld_stream_hands_each_item_over_at_once(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async with _aio.open_asyncio_loop():
        start = trio.current_time()
        async with _aio.open_aio_stream(_every_second(3)) as stream:
            seen = [(trio.current_time() - start, item) async for item in stream]
    assert seen == [(1, 1), (2, 2), (3, 3)]


async def test_a_run_stream_delivers_every_item_in_order_then_returns(
    autojump_clock: trio.testing.MockClock,
) -> None:
    delivered: list[tuple[float, list[int]]] = []
    async with _aio.open_asyncio_loop():
        start = trio.current_time()
        await _aio.run_aio_stream(
            _every_second(5),
            lambda batch: delivered.append((trio.current_time() - start, batch)),
            hold=2.5,
        )
        assert _aio.pending_asyncio_tasks() == 0
    assert delivered == [(1, [1]), (3.5, [2, 3]), (5, [4, 5])]


@pytest.mark.parametrize(
    ("hold", "expected"), [(2.5, [False, True, True, True, True]), (0, [False] * 5)]
)
async def test_a_stream_can_tell_whether_the_pump_holds_what_it_makes_now(
    autojump_clock: trio.testing.MockClock, hold: float, expected: list[bool]
) -> None:
    seen: list[bool] = []
    items = _every_second(5, lambda: seen.append(_aio.stream_is_held()))
    async with _aio.open_asyncio_loop():
        assert not _aio.stream_is_held()  # outside a pump
        await _aio.run_aio_stream(items, lambda batch: None, hold=hold)
    # Item 1 goes at once; 2 comes within the hold, 3 while 2 waits for the timer, 4 and 5
    # within the hold after the batch of 2 and 3.
    assert seen == expected


async def test_what_a_stream_let_go_of_counts_as_held_until_a_batch_goes_or_the_hold_ends(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[bool] = []
    batches: list[tuple[float, list[int]]] = []

    async def items() -> AsyncIterator[int]:
        await asyncio.sleep(1)
        _aio.stream_released()  # on its way, not here yet
        seen.append(_aio.stream_is_held())
        await asyncio.sleep(3)  # it never came: the hold (2.5 s) is over
        seen.append(_aio.stream_is_held())
        _aio.stream_released()
        yield 1  # it came: goes at once, and its batch's hold begins
        seen.append(_aio.stream_is_held())

    async with _aio.open_asyncio_loop():
        start = trio.current_time()
        deliver = lambda batch: batches.append((trio.current_time() - start, batch))  # noqa: E731
        await _aio.run_aio_stream(items, deliver, hold=2.5)
        _aio.stream_released()  # outside a pump: nothing to tell
    assert seen == [True, False, True]
    assert batches == [(4, [1])]


async def test_a_run_stream_raises_the_iterators_own_failure() -> None:
    async def failing() -> AsyncIterator[int]:
        yield 1
        raise LookupError("no more")

    delivered: list[list[int]] = []
    async with _aio.open_asyncio_loop():
        with pytest.raises(LookupError, match="no more"):
            await _aio.run_aio_stream(failing, delivered.append)
    assert delivered == [[1]]


async def test_a_cancelled_run_stream_returns_after_the_iterator_cleaned_up(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cleanup: list[str] = []

    async def endless() -> AsyncIterator[int]:
        n = 0
        try:
            while True:
                n += 1
                yield n
                await asyncio.sleep(1)
        except asyncio.CancelledError:
            # As chatkit does when it persists a partial answer: an await in the cleanup.
            await asyncio.sleep(1)
            cleanup.append("saved")
            raise

    delivered: list[int] = []
    async with _aio.open_asyncio_loop():
        with trio.move_on_after(3.5):
            await _aio.run_aio_stream(endless, delivered.extend)
        assert cleanup == ["saved"]
        assert _aio.pending_asyncio_tasks() == 0
    assert delivered == [1, 2, 3, 4]


async def _source(
    name: str, delays: list[float], log: list[str], fail: Exception | None = None
) -> AsyncIterator[str]:
    try:
        for n, delay in enumerate(delays):
            await asyncio.sleep(delay)
            yield f"{name}{n}"
        if fail is not None:
            raise fail
    finally:
        log.append(f"{name} closed")


async def _merged(
    a: AsyncIterator[str], b: AsyncIterator[str], pause_after: str = ""
) -> list[tuple[float, str]]:
    loop = asyncio.get_running_loop()
    start, seen = loop.time(), []
    async for item in merge_in_step(a, b):
        seen.append((loop.time() - start, item))
        if item == pause_after:
            await asyncio.sleep(3)
    return seen


async def test_merge_in_step_passes_items_on_as_they_come_asking_each_source_in_turn(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with _aio.open_asyncio_loop():
        seen = await trio_asyncio.aio_as_trio(_merged)(
            _source("a", [1, 1, 5], log), _source("b", [0.5, 10], log), "a0"
        )
        await trio.testing.wait_all_tasks_blocked()
        assert _aio.pending_asyncio_tasks() == 0
    # a1 is asked for only once a0 was taken, after the reader's pause: 4 + 1, not 1 + 1.
    # a ending ends the merge; b1, asked for at 0.5, was due at 10.5.
    assert seen == [(0.5, "b0"), (1, "a0"), (5, "a1"), (10, "a2")]
    assert log == ["a closed", "b closed"]


async def test_merge_in_step_passes_on_what_the_other_source_had_when_one_ends() -> None:
    async def empty() -> AsyncIterator[str]:
        return
        yield  # an async generator that ends at once

    async def ready() -> AsyncIterator[str]:
        yield "b0"
        yield "b1"

    async with _aio.open_asyncio_loop():
        seen = await trio_asyncio.aio_as_trio(_merged)(empty(), ready())
    assert [item for _, item in seen] == ["b0"]


async def test_merge_in_step_raises_a_sources_error_in_its_turn_and_stops_the_other(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with _aio.open_asyncio_loop():
        with pytest.raises(LookupError, match="gone"):
            await trio_asyncio.aio_as_trio(_merged)(
                _source("a", [1], log, LookupError("gone")), _source("b", [2, 2], log)
            )
        await trio.testing.wait_all_tasks_blocked()
        assert _aio.pending_asyncio_tasks() == 0
    assert log == ["a closed", "b closed"]


async def test_a_cancelled_merge_in_step_stops_both_sources(
    autojump_clock: trio.testing.MockClock,
) -> None:
    log: list[str] = []
    async with _aio.open_asyncio_loop():
        with trio.move_on_after(2.5):
            await trio_asyncio.aio_as_trio(_merged)(
                _source("a", [1] * 5, log), _source("b", [10], log)
            )
        await trio.testing.wait_all_tasks_blocked()
        assert _aio.pending_asyncio_tasks() == 0
    assert sorted(log) == ["a closed", "b closed"]


_caller: contextvars.ContextVar[str] = contextvars.ContextVar("caller", default="nobody")


async def test_a_thread_call_from_asyncio_returns_raises_and_keeps_context() -> None:
    def fail() -> None:
        raise ValueError("from the thread")

    async def calls() -> tuple[str, str]:
        _caller.set("turn 7")
        seen = await _threads.run_sync_in_thread(_caller.get)
        with pytest.raises(ValueError, match="from the thread"):
            await _threads.run_sync_in_thread(fail)
        return seen, threading.current_thread().name

    async with _aio.open_asyncio_loop():
        with trio.fail_after(5):
            seen, caller_thread = await trio_asyncio.aio_as_trio(calls)()
    assert seen == "turn 7"
    assert caller_thread == threading.current_thread().name  # only fn left the loop's thread


def _run_asyncio(loop: str, main: Callable[[], Awaitable[None]], seconds: float) -> None:
    """Run ``main()`` on a plain asyncio loop (another ChatKit server's, using the store) or
    in the server's own loop, bridged into trio; at most ``seconds``."""
    if loop == "plain":

        async def plain() -> None:
            async with asyncio.timeout(seconds):
                await main()

        run_on_plain_asyncio(plain)
    else:

        async def bridged() -> None:
            async with _aio.open_asyncio_loop():
                with trio.fail_after(seconds):
                    await trio_asyncio.aio_as_trio(main)()

        trio.run(bridged)


@pytest.mark.parametrize("loop", ["bridged", "plain"])
def test_a_cancelled_asyncio_caller_waits_for_the_thread_to_finish(loop: str) -> None:
    started, release = threading.Event(), threading.Event()
    finished: list[str] = []

    def write() -> None:
        started.set()
        release.wait(5)
        finished.append("write")

    async def caller() -> None:
        try:
            await _threads.run_sync_in_thread(write)
        except asyncio.CancelledError:
            finished.append("caller saw the cancellation")
            raise

    async def scenario() -> None:
        task = asyncio.get_running_loop().create_task(caller())
        await asyncio.get_running_loop().run_in_executor(None, started.wait, 5)
        task.cancel()
        await asyncio.sleep(0.05)
        task.cancel()  # a second cancellation must not cut the wait short either
        await asyncio.sleep(0.05)
        assert not task.done()
        release.set()
        with pytest.raises(asyncio.CancelledError):
            await task

    _run_asyncio(loop, scenario, 5)
    assert finished == ["write", "caller saw the cancellation"]


async def test_thread_calls_from_asyncio_leave_no_cyclic_garbage() -> None:
    async def many() -> None:
        for _ in range(200):
            await _threads.run_sync_in_thread(threading.get_ident)

    async with _aio.open_asyncio_loop():
        gc.collect()
        gc.disable()
        gc.set_debug(gc.DEBUG_SAVEALL)
        try:
            await trio_asyncio.aio_as_trio(many)()
            gc.collect()
            # Only the bridge's kind: other garbage can turn up meanwhile (an earlier test's
            # trio run, let go when an idle worker thread exits).
            futures = sum(isinstance(obj, asyncio.Future) for obj in gc.garbage)
        finally:
            gc.set_debug(0)
            gc.garbage.clear()
            gc.enable()
    # Through trio-asyncio's executor each call left an asyncio future (and a trio task
    # behind it, about a dozen objects) in reference cycles.
    assert futures < 20, futures


@pytest.mark.parametrize("loop", ["bridged", "plain"])
def test_asyncio_side_thread_calls_are_bounded(loop: str) -> None:
    lock = threading.Lock()
    running, most = 0, 0
    started, release = threading.Semaphore(0), threading.Event()

    def call() -> None:
        nonlocal running, most
        with lock:
            running += 1
            most = max(most, running)
        started.release()
        release.wait(5)
        with lock:
            running -= 1

    async def many() -> None:
        calls = [_threads.run_sync_in_thread(call) for _ in range(_threads.THREAD_SLOTS + 10)]
        gathered = asyncio.gather(*calls)
        loop = asyncio.get_running_loop()
        for _ in range(_threads.THREAD_SLOTS):
            await loop.run_in_executor(None, started.acquire)
        await asyncio.sleep(0.1)  # time enough for calls past the bound to start, if they could
        release.set()
        await gathered

    _run_asyncio(loop, many, 10)
    assert most == _threads.THREAD_SLOTS


async def test_a_thread_calls_slot_is_freed_once_the_thread_is_done() -> None:
    # On a busy server the caller resumes a few scheduler rounds after its result came back;
    # holding the slot until then made other queries queue for slots.
    freed_in: list[object] = []

    class Slots(asyncio.Semaphore):
        def release(self) -> None:
            freed_in.append(asyncio.current_task())
            super().release()

    async def call() -> None:
        _threads._thread_slots.set(Slots(1))
        await _threads.run_sync_in_thread(lambda: None)

    async with _aio.open_asyncio_loop():
        with trio.fail_after(5):
            await trio_asyncio.aio_as_trio(call)()
    assert freed_in == [None]  # in the callback that hands the result back, not in the task

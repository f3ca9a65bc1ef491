"""PostgresSupervisor's loop on a fake postmaster and trio's MockClock: when it restarts,
how long it waits, and what it reports meanwhile."""

from __future__ import annotations

import attrs
import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from robolearn.store import Backoff, PostgresSupervisor
from robolearn.store._supervisor import Restarted


@attrs.define
class FakePostmaster:
    """Processes that die when the test says; restarts that fail as many times as told."""

    failures: int = 0  # the next restarts that raise
    adopt: bool = False  # the next restart finds another process restarted it
    next_pid: int = 100
    exits: dict[int, trio.Event] = attrs.Factory(dict)
    attempts: list[tuple[float, int]] = attrs.Factory(list)  # (when, dead pid)

    def kill(self, pid: int) -> None:
        self.exits.setdefault(pid, trio.Event()).set()

    async def wait_exited(self, pid: int) -> None:
        await self.exits.setdefault(pid, trio.Event()).wait()

    async def restart(self, dead_pid: int) -> Restarted:
        self.attempts.append((trio.current_time(), dead_pid))
        await trio.sleep(0.05)  # a start takes a while
        if self.failures:
            self.failures -= 1
            raise RuntimeError("pg_ctl: could not start server")
        self.next_pid += 1
        return Restarted(self.next_pid, adopted=self.adopt)


class Restarts:
    """An ``on_restart`` hook to wait on: each restart sets the current event."""

    def __init__(self) -> None:
        self.event = trio.Event()

    async def __call__(self) -> None:
        self.event.set()

    async def next(self) -> None:
        with trio.fail_after(60):
            await self.event.wait()
        self.event = trio.Event()


async def _supervise(
    nursery: trio.Nursery, postmaster: FakePostmaster, backoff: Backoff, on_restart: object = None
) -> PostgresSupervisor:
    supervisor = PostgresSupervisor(backoff)
    await nursery.start(supervisor.run, postmaster, 1, on_restart)
    return supervisor


def _offsets(attempts: list[tuple[float, int]], since: float) -> list[float]:
    return [round(when - since, 3) for when, _ in attempts]


async def test_a_dead_postmaster_is_restarted_after_the_initial_delay(
    autojump_clock: MockClock,
) -> None:
    postmaster = FakePostmaster()
    restarted: list[float] = []

    async def on_restart() -> None:
        restarted.append(trio.current_time())

    async with trio.open_nursery() as nursery:
        supervisor = await _supervise(nursery, postmaster, Backoff(initial=0.1), on_restart)
        assert supervisor.statistics().state == "up"
        await trio.sleep(60)
        assert postmaster.attempts == []  # nothing happens while it lives

        postmaster.kill(1)
        died = trio.current_time()
        await wait_all_tasks_blocked()
        assert supervisor.restarting
        assert supervisor.statistics().state == "restarting"

        await trio.sleep(1)
        assert _offsets(postmaster.attempts, died) == [0.1]
        assert postmaster.attempts[0][1] == 1  # it was told which one died
        assert restarted == [pytest.approx(died + 0.15)]  # once the start returned
        stats = supervisor.statistics()
        assert (stats.state, stats.pid, stats.restarts, stats.adoptions) == ("up", 101, 1, 0)

        postmaster.kill(101)  # the new one is watched in turn
        await trio.sleep(5)
        assert supervisor.statistics().restarts == 2
        assert supervisor.statistics().pid == 102
        nursery.cancel_scope.cancel()


async def test_failed_restarts_back_off_doubling_up_to_the_maximum(
    autojump_clock: MockClock,
) -> None:
    postmaster = FakePostmaster(failures=7)
    restarts = Restarts()
    async with trio.open_nursery() as nursery:
        supervisor = await _supervise(
            nursery, postmaster, Backoff(initial=0.1, factor=2, maximum=2.0), restarts
        )
        postmaster.kill(1)
        died = trio.current_time()
        await restarts.next()
        # Each attempt starts `delay` after the previous one failed (a start takes 0.05 s).
        gaps = [0.1, 0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 2.0]
        expected = [round(sum(gaps[: n + 1]) + 0.05 * n, 3) for n in range(len(gaps))]
        assert _offsets(postmaster.attempts, died) == expected
        stats = supervisor.statistics()
        assert (stats.state, stats.restarts, stats.failed_attempts) == ("up", 1, 7)
        nursery.cancel_scope.cancel()


async def test_the_delay_resets_only_after_the_server_stayed_up(
    autojump_clock: MockClock,
) -> None:
    postmaster = FakePostmaster()
    backoff = Backoff(initial=0.1, factor=2, maximum=5.0, reset_after=30.0)
    restarts = Restarts()
    async with trio.open_nursery() as nursery:
        supervisor = await _supervise(nursery, postmaster, backoff, restarts)

        async def die_and_wait() -> float:
            pid = supervisor.statistics().pid
            assert pid is not None
            died = trio.current_time()
            postmaster.kill(pid)
            await restarts.next()
            return round(postmaster.attempts[-1][0] - died, 3)

        # Dying again soon after each restart: a crash loop is slowed down.
        assert [await die_and_wait() for _ in range(4)] == [0.1, 0.2, 0.4, 0.8]
        await trio.sleep(30)  # up for reset_after seconds: back to the initial delay
        assert await die_and_wait() == 0.1
        await trio.sleep(29)  # not long enough
        assert await die_and_wait() == 0.2
        nursery.cancel_scope.cancel()


async def test_a_server_restarted_by_another_process_is_adopted_not_counted(
    autojump_clock: MockClock,
) -> None:
    postmaster = FakePostmaster(adopt=True)
    async with trio.open_nursery() as nursery:
        supervisor = await _supervise(nursery, postmaster, Backoff())
        postmaster.kill(1)
        await trio.sleep(1)
        stats = supervisor.statistics()
        assert (stats.state, stats.pid, stats.restarts, stats.adoptions) == ("up", 101, 0, 1)
        nursery.cancel_scope.cancel()


async def test_a_failing_after_restart_hook_does_not_stop_supervision(
    autojump_clock: MockClock,
) -> None:
    postmaster = FakePostmaster()

    async def on_restart() -> None:
        raise OSError("the pool check failed")

    async with trio.open_nursery() as nursery:
        supervisor = await _supervise(nursery, postmaster, Backoff(), on_restart)
        postmaster.kill(1)
        await trio.sleep(1)
        postmaster.kill(101)
        await trio.sleep(1)
        assert supervisor.statistics().restarts == 2
        nursery.cancel_scope.cancel()


async def test_cancelled_while_restarting_it_stops_at_once(autojump_clock: MockClock) -> None:
    postmaster = FakePostmaster(failures=1000)
    async with trio.open_nursery() as nursery:
        supervisor = await _supervise(nursery, postmaster, Backoff())
        postmaster.kill(1)
        await trio.sleep(10)
        assert supervisor.restarting
        nursery.cancel_scope.cancel()
    assert supervisor.statistics().restarts == 0


async def test_runs_once(autojump_clock: MockClock) -> None:
    supervisor = PostgresSupervisor()
    assert supervisor.statistics().state == "idle"
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run, FakePostmaster(), 1)
        with pytest.raises(RuntimeError, match="runs once"):
            await supervisor.run(FakePostmaster(), 1)
        nursery.cancel_scope.cancel()

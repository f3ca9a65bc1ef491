"""A known outage fails queries at once; the probe notices the database coming back."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import trio
import trio.testing

from robolearn.store import (
    DatabaseHealth,
    EmbeddedPostgres,
    StoreUnavailable,
    open_store,
)

from ._factories import ALICE, thread


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class FlakyDatabase:
    """A probe target that is down until told otherwise; counts the probes."""

    def __init__(self) -> None:
        self.up = True
        self.probes = 0
        self.recoveries = 0
        self.recovery_fails = False

    async def probe(self) -> None:
        self.probes += 1
        if not self.up:
            raise ConnectionRefusedError("down")

    async def recover(self) -> None:
        self.recoveries += 1
        if self.recovery_fails:
            raise TimeoutError("the pool has not caught up")


async def test_suspicion_is_confirmed_by_the_probe_and_recovery_by_polling(
    autojump_clock: trio.testing.MockClock,
) -> None:
    db = FlakyDatabase()
    health = DatabaseHealth(db.probe, db.recover, interval=0.5)
    async with trio.open_nursery() as nursery:
        await nursery.start(health.run)
        health.suspect()  # a broken connection, but the server answers: not an outage
        await trio.testing.wait_all_tasks_blocked()
        assert db.probes == 1 and not health.down
        health.check()

        db.up = False
        health.suspect()
        await trio.testing.wait_all_tasks_blocked()
        assert health.down
        with pytest.raises(StoreUnavailable):
            health.check()
        probes = db.probes
        await trio.sleep(5)  # probed every interval while down, nothing in between
        assert db.probes - probes == pytest.approx(10, abs=1)

        db.up = True
        db.recovery_fails = True  # the server is back but the pool is not: still down
        await trio.sleep(0.75)
        assert health.down and db.recoveries >= 1
        db.recovery_fails = False
        await trio.sleep(0.75)
        assert not health.down
        stats = health.statistics()
        assert stats.outages == 1 and not stats.down and stats.down_seconds == 0
        probes = db.probes
        await trio.sleep(60)
        assert db.probes == probes  # nothing to probe while up and unsuspected
        nursery.cancel_scope.cancel()


async def test_a_pool_exhausted_by_load_is_not_an_outage(database_url: str) -> None:
    async with open_store(database_url, pool_min=1, pool_max=1, db_timeout=0.2) as store:
        held = trio.Event()
        release = trio.Event()

        def hold(conn: object) -> None:
            trio.from_thread.run_sync(held.set)
            trio.from_thread.run(release.wait)

        async with trio.open_nursery() as nursery:
            nursery.start_soon(store.run, hold)
            await held.wait()
            with pytest.raises(StoreUnavailable):
                await store.count_threads(ALICE)  # no connection within 0.2 s
            release.set()
        assert store.health is not None
        await _wait_until(lambda: store.health is not None and store.health.statistics().probes)
        assert not store.health.down
        assert await store.count_threads(ALICE) == 0


@pytest.fixture
def private_pg(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path / "pg"
    EmbeddedPostgres.start(tmp_path / "pg").stop()


@pytest.mark.slow
async def test_outage_fails_fast_and_heals_by_itself(private_pg: Path) -> None:
    server = await trio.to_thread.run_sync(EmbeddedPostgres.start, private_pg)
    async with open_store(server.uri, pool_min=2, pool_max=4, db_timeout=3.0) as store:
        await store.save_thread(thread(), ALICE)
        health = store.health
        assert health is not None
        await trio.to_thread.run_sync(server.stop)

        # The first query after the database went away finds out (its broken connection
        # fails, the probe confirms); it does not wait for the pool either.
        with trio.fail_after(2.5), pytest.raises(StoreUnavailable):
            await store.load_thread("thr_test", ALICE)
        await _wait_until(lambda: health.down)
        with trio.fail_after(1):  # far below the 3 s pool timeout, all of them together
            for _ in range(20):
                with pytest.raises(StoreUnavailable):
                    await store.load_thread("thr_test", ALICE)

        await trio.to_thread.run_sync(EmbeddedPostgres.start, private_pg)
        back = trio.current_time()
        await _wait_until(lambda: not health.down, seconds=5)
        healed = trio.current_time() - back
        print(f"\nservice back {healed:.2f} s after the database")
        assert (await store.load_thread("thr_test", ALICE)).id == "thr_test"
        assert health.statistics().outages == 1


async def _wait_until(predicate: Callable[[], object], seconds: float = 5) -> None:
    with trio.fail_after(seconds):
        while not predicate():  # noqa: ASYNC110 -- state changed by other tasks and threads
            await trio.sleep(0.01)

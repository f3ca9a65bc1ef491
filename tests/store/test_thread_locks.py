"""ThreadLocks against the real database: two lock managers are two processes.

Waits are for the other side's statistics (a failed try, a contended lock), never for time.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager

import psycopg
import pytest
import trio

from robolearn.store import PostgresStore, ThreadLocks, open_thread_locks
from tests.http.conftest import wait_until

from ._factories import ALICE, thread

OpenLocks = Callable[..., AbstractAsyncContextManager[ThreadLocks]]


@pytest.fixture
async def migrated(store: PostgresStore) -> AsyncIterator[str]:
    """The database URL, with the schema in place (the store migrates on open)."""
    yield store.conninfo


def locks_on(url: str) -> OpenLocks:
    def opener(
        retry: float = 60.0, linger: float = 0.0
    ) -> AbstractAsyncContextManager[ThreadLocks]:
        # A long retry by default: a waiter woken in time was woken by a notification.
        return open_thread_locks(url, retry=retry, connect_timeout=3.0, linger=linger)

    return opener


async def test_a_lock_is_held_by_one_process_and_handed_over_on_release(migrated: str) -> None:
    open_locks = locks_on(migrated)
    async with open_locks() as a, open_locks() as b, trio.open_nursery() as nursery:
        lease = await a.acquire("alice", "thr_1")
        got: list[object] = []

        async def take() -> None:
            got.append(await b.acquire("alice", "thr_1"))

        nursery.start_soon(take)
        # B tried, failed and announced itself; A heard it.
        await wait_until(lambda: b.statistics().waiting == 1 and lease.contended)
        assert not got
        a.release("alice", "thr_1")
        # Woken by A's release notice: the retry period (60 s) is far off.
        with trio.fail_after(10):
            await wait_until(lambda: bool(got))
        assert a.statistics().held == 0
        assert b.statistics().held == 1


async def test_other_threads_and_users_do_not_wait(migrated: str) -> None:
    open_locks = locks_on(migrated)
    async with open_locks() as a, open_locks() as b:
        await a.acquire("alice", "thr_1")
        with trio.fail_after(10):
            await b.acquire("alice", "thr_2")
            await b.acquire("bob", "thr_1")


async def test_a_held_lock_is_given_back_as_it_was(migrated: str) -> None:
    async with locks_on(migrated)() as a:
        first = await a.acquire("alice", "thr_1")
        assert await a.acquire("alice", "thr_1") is first
        # A release not yet sent is called off by the next take: no round trip.
        a.release("alice", "thr_1")
        trips = a.statistics().round_trips
        assert await a.acquire("alice", "thr_1") is first
        assert a.statistics().round_trips == trips
        a.release("alice", "thr_1")
        await wait_until(lambda: a.statistics().held == 0)
        again = await a.acquire("alice", "thr_1")
        assert again is not first


async def test_many_takes_and_releases_share_round_trips(migrated: str) -> None:
    async with locks_on(migrated)() as a:
        threads = [f"thr_{n}" for n in range(50)]
        async with trio.open_nursery() as nursery:
            for thread_id in threads:
                nursery.start_soon(a.acquire, "alice", thread_id)
        stats = a.statistics()
        assert stats.held == 50
        assert stats.round_trips <= 3, stats
        for thread_id in threads:
            a.release("alice", thread_id)
        await wait_until(lambda: a.statistics().held == 0)
        assert a.statistics().round_trips <= stats.round_trips + 2


async def test_a_killed_session_frees_its_locks_and_its_holder_knows(
    migrated: str, store: PostgresStore
) -> None:
    open_locks = locks_on(migrated)
    # B retries every 0.2 s: a killed holder sends no release notice.
    async with open_locks() as a, open_locks(retry=0.2) as b, trio.open_nursery() as nursery:
        lease = await a.acquire("alice", "thr_1")
        got: list[object] = []

        async def take() -> None:
            got.append(await b.acquire("alice", "thr_1"))

        nursery.start_soon(take)
        await wait_until(lambda: b.statistics().waiting == 1)
        pid = a.backend_pid
        cut = trio.Event()

        async def turn() -> None:
            with lease.guard() as scope:
                await trio.sleep_forever()
            assert scope.cancelled_caught
            cut.set()

        nursery.start_soon(turn)
        await wait_until(lambda: lease._turn is not None)
        await store.run(lambda conn: conn.execute("SELECT pg_terminate_backend(%s)", (pid,)))
        with trio.fail_after(10):
            await cut.wait()  # the turn under the lost lock was cancelled
            await wait_until(lambda: bool(got))
        assert lease.lost
        # A reconnects and waits its turn like anyone else.
        await wait_until(lambda: a.connected and a.backend_pid != pid)
        assert a.statistics().held == 0
        with trio.move_on_after(0.5):
            await a.acquire("alice", "thr_1")
            pytest.fail("A took a lock B holds")


async def test_a_closed_session_makes_takes_fail_fast(migrated: str) -> None:
    async with locks_on(migrated)() as a:
        lease = await a.acquire("alice", "thr_1")
        assert a._session is not None
        a._session.close()  # as if the server closed it
        a._wake()
        with trio.fail_after(10):
            await wait_until(lambda: lease.lost)
            await wait_until(lambda: a.connected)
            again = await a.acquire("alice", "thr_1")
        assert again is not lease and not again.lost


async def test_no_database_fails_takes_at_once() -> None:
    url = "postgresql:///nothing?host=/nonexistent"
    async with open_thread_locks(url, retry=1.0, connect_timeout=1.0) as a:
        assert not a.connected
        from robolearn.store import StoreUnavailable

        with pytest.raises(StoreUnavailable):
            await a.acquire("alice", "thr_1")


async def test_a_busy_holder_yields_to_a_waiter_after_its_turn(migrated: str) -> None:
    open_locks = locks_on(migrated)
    order: list[str] = []
    async with open_locks() as a, open_locks() as b, trio.open_nursery() as nursery:
        lease = await a.acquire("alice", "thr_1")

        async def b_turn() -> None:
            await b.acquire("alice", "thr_1")
            order.append("b")
            b.release("alice", "thr_1")

        nursery.start_soon(b_turn)
        await wait_until(lambda: lease.contended)
        # A has more work, but another process waits: it gives the lock back after this
        # turn and waits for its next one behind B.
        a.release("alice", "thr_1")
        with trio.fail_after(10):
            await a.acquire("alice", "thr_1")
        order.append("a")
        assert order == ["b", "a"]


async def test_the_version_read_with_the_lock_follows_writes(
    migrated: str, store: PostgresStore
) -> None:
    async with locks_on(migrated)() as a:
        lease = await a.acquire(ALICE.user_id, "thr_v")
        assert lease.version == 0  # no such thread yet
        await store.save_thread(thread("thr_v"), ALICE)
        a.release(ALICE.user_id, "thr_v")
        await wait_until(lambda: a.statistics().held == 0)
        lease = await a.acquire(ALICE.user_id, "thr_v")
        assert lease.version == 1
        a.release(ALICE.user_id, "thr_v")
        await wait_until(lambda: a.statistics().held == 0)
        await store.merge_thread("thr_v", {"title": "Renamed"}, None, ALICE)
        lease = await a.acquire(ALICE.user_id, "thr_v")
        assert lease.version == 2


async def test_locks_are_session_advisory_locks(migrated: str) -> None:
    """Seen from the server: the lock is an advisory lock of the manager's session."""
    async with locks_on(migrated)() as a:
        await a.acquire("alice", "thr_1")
        with psycopg.connect(migrated, autocommit=True) as conn:
            row = conn.execute(
                "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND pid = %s",
                (a.backend_pid,),
            ).fetchone()
        assert row == (1,)


async def test_a_lingering_release_goes_out_at_once_when_another_process_asks(
    migrated: str,
) -> None:
    open_locks = locks_on(migrated)
    async with open_locks(linger=60.0) as a, open_locks() as b:
        await a.acquire("alice", "thr_1")
        a.release("alice", "thr_1")
        # Kept for a minute in case the thread has more work...
        assert a.statistics().held == 1
        # ...unless someone else wants it: B's failed try makes A let go, and says so.
        with trio.fail_after(10):
            await b.acquire("alice", "thr_1")
        assert a.statistics().held == 0


async def test_a_take_right_after_the_session_dropped_is_served_by_the_next_one(
    migrated: str, store: PostgresStore
) -> None:
    async with locks_on(migrated)() as a:
        lease = await a.acquire("alice", "thr_1")
        pid = a.backend_pid
        await store.run(lambda conn: conn.execute("SELECT pg_terminate_backend(%s)", (pid,)))
        # Whether or not the loss was noticed yet, the take is not refused: the database is up.
        with trio.fail_after(10):
            again = await a.acquire("alice", "thr_2")
        assert lease.lost and not again.lost
        assert a.backend_pid != pid

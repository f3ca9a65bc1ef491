"""Request rates and stream slots kept in PostgreSQL: two stores on one database stand for
two processes sharing one user's limits."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import psycopg
import pytest
import trio

from robolearn.store import (
    PostgresStore,
    SharedRates,
    StoreUnavailable,
    StreamSlotLocks,
    open_store,
    open_stream_slot_locks,
)


@pytest.fixture
async def two_stores(database_url: str) -> AsyncIterator[tuple[PostgresStore, PostgresStore]]:
    async with open_store(database_url, pool_min=1) as one, open_store(database_url) as two:
        yield one, two


async def test_two_processes_share_one_budget(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    first, second = (SharedRates(store) for store in two_stores)
    outcomes = [await (first if n % 2 else second).take("user:alice", 6) for n in range(6)]
    assert outcomes == [None] * 6
    refused = await first.take("user:alice", 6)
    assert refused == pytest.approx(10, abs=0.5)  # one request every 10 s from now on
    assert await second.take("user:alice", 6) is not None
    assert await second.take("user:bob", 6) is None  # budgets are per key


async def test_concurrent_requests_from_two_processes_get_exactly_the_budget(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> None:
    rates = [SharedRates(store) for store in two_stores]
    allowed = 0

    async def request(n: int) -> None:
        nonlocal allowed
        if await rates[n % 2].take("user:alice", 20) is None:
            allowed += 1

    async with trio.open_nursery() as nursery:
        for n in range(60):
            nursery.start_soon(request, n)
    # The burst, plus at most a token or two that refilled (one every 3 s) meanwhile.
    assert 20 <= allowed <= 21


async def test_full_buckets_are_swept(store: PostgresStore) -> None:
    rates = SharedRates(store)
    await rates.take("user:alice", 60_000)  # full again a millisecond later
    await rates.take("user:bob", 1)  # empty for a minute
    with trio.fail_after(5):
        while await rates.sweep() == 0:  # noqa: ASYNC110 -- waiting for the database's clock
            await trio.sleep(0.01)
    assert await rates.take("user:bob", 1) is not None  # still counted


@pytest.fixture
async def two_lockers(
    two_stores: tuple[PostgresStore, PostgresStore],
) -> AsyncIterator[tuple[StreamSlotLocks, StreamSlotLocks]]:
    async with AsyncExitStack() as stack:
        one, two = [
            await stack.enter_async_context(open_stream_slot_locks(store)) for store in two_stores
        ]
        yield one, two


async def test_slots_are_shared_and_given_back(
    two_lockers: tuple[StreamSlotLocks, StreamSlotLocks],
) -> None:
    first, second = two_lockers
    # Advisory locks are re-entrant within a session: each of a process's answers must
    # still count as one.
    a0 = await first.take("alice", 3)
    a1 = await first.take("alice", 3)
    assert a0 is not None and a1 is not None and a0.number != a1.number
    b0 = await second.take("alice", 3)
    assert b0 is not None
    assert await first.take("alice", 3) is None
    assert await second.take("alice", 3) is None
    assert await second.take("bob", 3) is not None  # caps are per user

    first.release(a0)
    # The process that gave it back takes it over at once, without asking the database ...
    again = await first.take("alice", 3)
    assert again is not None and again.number == a0.number
    first.release(again)
    # ... and once its unlock has run, any process can take it.
    with trio.fail_after(5):
        while (slot := await second.take("alice", 3)) is None:  # noqa: ASYNC110
            await trio.sleep(0.01)
    assert slot.number == a0.number
    assert first.statistics().held == 1 and second.statistics().held == 3


async def test_concurrent_takes_in_two_processes_get_exactly_the_cap(
    two_lockers: tuple[StreamSlotLocks, StreamSlotLocks],
) -> None:
    taken: list[int] = []

    async def take(n: int) -> None:
        slot = await two_lockers[n % 2].take("alice", 3)
        if slot is not None:
            taken.append(slot.number)

    async with trio.open_nursery() as nursery:
        for n in range(20):
            nursery.start_soon(take, n)
    assert sorted(taken) == [0, 1, 2]


async def test_a_dead_connection_frees_its_slots(
    database_url: str, two_lockers: tuple[StreamSlotLocks, StreamSlotLocks]
) -> None:
    first, second = two_lockers
    held = [await first.take("alice", 2) for _ in range(2)]
    assert None not in held
    assert await second.take("alice", 2) is None
    # The first process dies: its lock connection goes, and its locks with it.
    terminated = await trio.to_thread.run_sync(_terminate_slot_sessions, database_url)
    assert terminated == 1  # the second's session holds no lock
    slot = await second.take("alice", 2)
    assert slot is not None


async def test_closing_the_lockers_frees_the_slots(
    database_url: str, two_stores: tuple[PostgresStore, PostgresStore]
) -> None:
    one, two = two_stores
    async with open_stream_slot_locks(one) as first:
        assert await first.take("alice", 1) is not None
        async with open_stream_slot_locks(two) as second:
            assert await second.take("alice", 1) is None
    async with open_stream_slot_locks(two) as second:
        assert await second.take("alice", 1) is not None


async def test_a_lost_connection_is_replaced_and_reported(
    database_url: str, store: PostgresStore
) -> None:
    async with open_stream_slot_locks(store) as locks:
        slot = await locks.take("alice", 1)
        assert slot is not None
        await trio.to_thread.run_sync(_terminate_slot_sessions, database_url)
        # The next take finds the connection dead: this process cannot count now.
        with pytest.raises(StoreUnavailable):
            await locks.take("bob", 1)
        # The one after connects again; the lost session's slots are free.
        again = await locks.take("alice", 1)
        assert again is not None
        locks.release(slot)  # of the lost connection: nothing to unlock, nothing breaks
        assert locks.statistics().connections == 2
        assert locks.statistics().held == 1


def _terminate_slot_sessions(database_url: str) -> int:
    # With a timeout, pg_terminate_backend waits for the backend to exit, and so for its
    # locks to be freed: without, a take right after could still find them held.
    with psycopg.connect(database_url, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pg_terminate_backend(pid, 10000) FROM pg_stat_activity"
            " WHERE datname = current_database() AND application_name = 'robolearn stream slots'"
            " AND pid IN (SELECT pid FROM pg_locks WHERE locktype = 'advisory')"
        ).fetchall()
    assert all(exited for (exited,) in rows)
    return len(rows)

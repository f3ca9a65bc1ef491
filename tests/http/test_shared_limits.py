"""The per-user limits shared through PostgreSQL, and this process's own standing in for
them while the database is unavailable (they fail open to the per-process limits)."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import trio

from robolearn.http._ratelimit import RateLimited, StreamSlots, TokenBucketLimiter, TooManyStreams
from robolearn.http._sharedlimits import SharedRateLimiter, SharedStreamSlots
from robolearn.store import (
    EmbeddedPostgres,
    PostgresStore,
    SharedRates,
    StoreUnavailable,
    open_store,
    open_stream_slot_locks,
)


async def test_shared_limits_count_across_instances(store: PostgresStore) -> None:
    rates = SharedRates(store)
    one, two = (SharedRateLimiter(rates, 2, TokenBucketLimiter(2)) for _ in range(2))
    await one.acquire("alice")
    await two.acquire("alice")
    with pytest.raises(RateLimited) as refused:
        await one.acquire("alice")
    assert refused.value.retry_after == pytest.approx(30, abs=1)
    async with open_stream_slot_locks(store) as a, open_stream_slot_locks(store) as b:
        first, second = (
            SharedStreamSlots(StreamSlots(1, 10), a),
            SharedStreamSlots(StreamSlots(1, 10), b),
        )
        release = await first.take("alice")
        with pytest.raises(TooManyStreams, match="one user"):
            await second.take("alice")
        assert second.local.active == 0  # the refused one holds nothing here either
        release()
        with trio.fail_after(5):
            while True:  # its unlock runs in the background
                try:
                    (await second.take("alice"))()
                    break
                except TooManyStreams:
                    await trio.sleep(0.01)


@pytest.fixture
async def store_without_database(
    pg_server: EmbeddedPostgres, database_url: str
) -> AsyncIterator[PostgresStore]:
    missing = database_url.replace("/t_", "/missing_t_")
    async with open_store(missing, pool_min=0, db_timeout=0.5) as store:
        with pytest.raises(StoreUnavailable):
            await store.check()
        assert store.health is not None
        with trio.fail_after(5):
            while not store.health.down:  # noqa: ASYNC110 -- the probe runs in a thread
                await trio.sleep(0.01)
        yield store


async def test_without_the_database_each_process_counts_alone_and_at_once(
    store_without_database: PostgresStore,
) -> None:
    limiter = SharedRateLimiter(SharedRates(store_without_database), 2, TokenBucketLimiter(2))
    async with open_stream_slot_locks(store_without_database) as locks:
        streams = SharedStreamSlots(StreamSlots(1, 10), locks)
        with trio.fail_after(1):  # no waiting for the pool (0.5 s a query)
            await limiter.acquire("alice")
            await limiter.acquire("alice")
            with pytest.raises(RateLimited):
                await limiter.acquire("alice")
            release = await streams.take("alice")
            with pytest.raises(TooManyStreams):
                await streams.take("alice")
            release()
            (await streams.take("alice"))()

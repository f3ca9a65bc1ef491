"""open_store: the one public way to get a store (tests, tools and the app all use it).

It runs on trio (the server) and on plain asyncio (any other ChatKit server): its background
tasks and thread calls go through anyio, which picks the running library.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from functools import partial
from pathlib import Path
from typing import Any

import anyio
import psycopg
from psycopg_pool import ConnectionPool

from robolearn.obs import Tracing

from ._embedded import EmbeddedPostgres, open_embedded_postgres
from ._errors import StoreUnavailable
from ._health import DatabaseHealth
from ._postgres import PostgresStore, StoreLimits
from ._supervisor import EmbeddedPostmaster, PostgresSupervisor

__all__ = ["open_store"]

_log = logging.getLogger("robolearn.store")


@asynccontextmanager
async def open_store(
    database_url: str | None = None,
    *,
    data_dir: Path | None = None,
    pool_min: int = 2,
    pool_max: int = 10,
    db_timeout: float = 3.0,
    limits: StoreLimits | None = None,
    tracing: Tracing | None = None,
    supervisor: PostgresSupervisor | None = None,
) -> AsyncIterator[PostgresStore]:
    """Connect to ``database_url`` (or start embedded PostgreSQL in ``data_dir``), migrate, and
    yield a :class:`PostgresStore`. ``db_timeout`` bounds each connection checkout, so a missing
    database fails requests within seconds instead of queueing them.

    If the database cannot be reached the block still runs: one warning is logged, operations
    raise :class:`StoreUnavailable`, and the pool keeps reconnecting in the background, so the
    store heals by itself when the database comes back.

    ``supervisor``, when given, watches the embedded PostgreSQL this starts (none with a
    ``database_url``) for the block, and starts it again if it dies.

    Use it from trio or from asyncio (``asyncio.run``, an ASGI server's lifespan); the
    store's methods may then be called from any task of that loop. An error raised in the
    block comes out as itself, not wrapped in an ``ExceptionGroup`` by the background tasks.
    """
    failed: Exception | None = None
    bare: Exception | None = None
    try:
        async with AsyncExitStack() as stack:
            embedded: EmbeddedPostgres | None = None
            if database_url is None:
                if data_dir is None:
                    raise ValueError("open_store needs a database_url or a data_dir")
                try:
                    embedded = await stack.enter_async_context(open_embedded_postgres(data_dir))
                    database_url = embedded.uri
                except Exception as exc:
                    _log.warning("embedded PostgreSQL did not start: %s", exc)
                    # An unusable URL still yields a store; it reports itself unavailable.
                    database_url = "postgresql:///robolearn-unavailable?host=/nonexistent"
            pool = _make_pool(database_url, pool_min, pool_max, db_timeout)
            await anyio.to_thread.run_sync(pool.open)
            stack.push_async_callback(_close_pool, pool)
            health = DatabaseHealth(
                partial(_probe, database_url, db_timeout), partial(_pool_serves, pool, db_timeout)
            )
            # Stopped before the pool closes and the server stops (the stack unwinds in
            # reverse).
            tasks = await stack.enter_async_context(anyio.create_task_group())
            stack.callback(tasks.cancel_scope.cancel)
            await tasks.start(health.run)
            if embedded is not None and supervisor is not None:

                async def restarted() -> None:
                    health.suspect()  # back now: no need to wait for the next probe
                    await anyio.to_thread.run_sync(pool.check)

                await tasks.start(
                    supervisor.run,
                    EmbeddedPostmaster(embedded.data_dir, embedded.uri),
                    embedded.pid,
                    restarted,
                )
            store = PostgresStore(
                pool, db_timeout, limits or StoreLimits(), tracing or Tracing(), health
            )
            try:
                await store.migrate()
            except StoreUnavailable as exc:
                _log.warning("database not reachable at startup, serving degraded: %s", exc)
            try:
                yield store
            except Exception as exc:
                failed = exc
                raise
    except BaseExceptionGroup as group:
        if failed is None or group.exceptions != (failed,):
            raise
        bare = failed
    if bare is not None:
        # Only the block's own error, which the background tasks' group wrapped: raised as
        # itself, as any context manager lets it through (outside the handler, so that its
        # own context is kept).
        raise bare


def _make_pool(url: str, min_size: int, max_size: int, timeout: float) -> ConnectionPool[Any]:
    return ConnectionPool(
        url,
        min_size=min_size,
        max_size=max_size,
        open=False,
        timeout=timeout,
        # Short reconnect series (attempts 1 s apart, for 2 s): the health probe, not the
        # pool, watches for a database that went away; once it is back, the next checkout
        # starts a fresh series, so no pool attempt waits out a long backoff meanwhile.
        reconnect_timeout=2.0,
        # No per-checkout ping: it costs a round trip on every query. A connection that died
        # (database restart) fails its query, is discarded, and the query is retried on a
        # fresh one (PostgresStore retries transient errors).
        # Autocommit: one statement, one round trip; multi-statement work opens a transaction.
        kwargs={"connect_timeout": max(1, round(timeout)), "autocommit": True},
        name="robolearn",
    )


async def _probe(url: str, connect_timeout: float) -> None:
    """Connect afresh (outside the pool) and run a trivial query; raise if that fails."""

    def probe() -> None:
        with psycopg.connect(
            url, connect_timeout=max(1, round(connect_timeout)), autocommit=True
        ) as conn:
            conn.execute("SELECT 1")

    # Abandoned on shutdown: a probe of an unreachable host may take its connect timeout.
    await anyio.to_thread.run_sync(probe, abandon_on_cancel=True)


async def _pool_serves(pool: ConnectionPool[Any], checkout_timeout: float) -> None:
    """After an outage: drop the pool's broken connections and take a working one from it.

    The probe's own connection proves the server is back; this proves the pool has caught
    up, so the first requests let through do not meet the connections the outage broke.
    """

    def check() -> None:
        pool.check()
        with pool.connection(timeout=min(checkout_timeout, 1.0)) as conn:
            conn.execute("SELECT 1")

    await anyio.to_thread.run_sync(check, abandon_on_cancel=True)


async def _close_pool(pool: ConnectionPool[Any]) -> None:
    with anyio.CancelScope(shield=True):
        await anyio.to_thread.run_sync(lambda: pool.close(timeout=5.0))

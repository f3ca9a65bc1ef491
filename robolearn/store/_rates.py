"""Request rates counted in PostgreSQL, so a budget holds across every process.

One row per key, one statement per request: the row lock makes concurrent requests of one
key (from any process) take their turns, and the database's clock is the only clock, so
processes on hosts whose clocks disagree still count alike. The algorithm is GCRA, a token
bucket written as one timestamp (see migration 0008): ``per_minute`` requests a minute, in
bursts of up to ``per_minute``.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import anyio
import attrs
import psycopg

from ._errors import StoreFailed, StoreUnavailable
from ._postgres import PostgresStore

__all__ = ["SharedRates"]

_log = logging.getLogger("robolearn.store")

# A key's first request fills its bucket less one; later ones refill it by the time passed
# since its theoretical arrival time (tat), refuse when it is empty, and say when the next
# token comes. `now()` is the statement's start: one instant for the whole decision.
_TAKE = b"""
INSERT INTO rate_limits AS r (key, tat, allowed) VALUES (%(key)s, now() + %(t)s, true)
ON CONFLICT (key) DO UPDATE SET
    allowed = GREATEST(r.tat, now()) <= now() + %(tau)s,
    tat = CASE WHEN GREATEST(r.tat, now()) <= now() + %(tau)s
               THEN GREATEST(r.tat, now()) + %(t)s ELSE r.tat END
RETURNING allowed, extract(epoch FROM tat - now() - %(tau)s)::float8
"""


@attrs.frozen
class SharedRates:
    """Per-key request budgets in the ``rate_limits`` table of ``store``'s database."""

    store: PostgresStore

    async def take(self, key: str, per_minute: int) -> float | None:
        """Take one request from ``key``'s budget: None when there was one, else the seconds
        until there is. Raises :class:`StoreUnavailable` when the database cannot answer."""
        interval = 60.0 / per_minute
        params = {
            "key": key,
            "t": timedelta(seconds=interval),
            # A full bucket lets per_minute requests through at once: the last of them
            # arrives (per_minute - 1) intervals "early".
            "tau": timedelta(seconds=interval * (per_minute - 1)),
        }

        def query(conn: psycopg.Connection[Any]) -> tuple[bool, float]:
            row = conn.execute(_TAKE, params).fetchone()
            assert row is not None  # an upsert returns its row
            return bool(row[0]), float(row[1])

        allowed, wait = await self.store.run(query)
        return None if allowed else max(wait, 0.0)

    async def sweep(self) -> int:
        """Delete the rows of full buckets (their key's next request starts afresh anyway);
        returns how many went."""

        def query(conn: psycopg.Connection[Any]) -> int:
            return conn.execute(b"DELETE FROM rate_limits WHERE tat < now()").rowcount

        return await self.store.run(query)

    async def sweep_periodically(self, interval: float) -> None:
        """Keep the table as small as the set of recently active keys, until cancelled."""
        while True:
            await anyio.sleep(interval)
            try:
                await self.sweep()
            except (StoreUnavailable, StoreFailed) as exc:
                _log.warning("rate limit sweep skipped: %s", exc)

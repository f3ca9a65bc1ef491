"""Per-user limits for the whole deployment, kept in PostgreSQL, with this process's own
limits standing in while the database cannot answer.

Every process on one database shares each user's request budget (``SharedRates``: one
upsert per request) and stream cap (``StreamSlotLocks``: an advisory lock per streaming
answer). The process-wide stream cap stays this process's own.

Without the database they fail open to the in-process limits: each process then enforces
the per-user limits on its own, so a user spread over N processes may get up to N times
them for as long as the outage lasts. Failing closed would buy nothing: the requests these
limits guard need the database, and get their 503 (not a misleading 429) at once; and a
blip of the limits' own connection must not refuse users while the database serves.
"""

from __future__ import annotations

import logging
from collections.abc import Callable

import attrs

from robolearn.store import SharedRates, StoreFailed, StoreUnavailable, StreamSlotLocks

from ._ratelimit import RateLimited, RateLimiter, StreamSlots, TooManyStreams

__all__ = ["SharedRateLimiter", "SharedStreamSlots"]

_log = logging.getLogger("robolearn.http")


@attrs.frozen
class SharedRateLimiter:
    """``per_minute`` requests a minute per key, counted by every process together; counted
    by ``fallback`` (this process alone) while the database is unavailable.

    ``scope`` keeps budgets of different kinds apart (``user``, ``preview``) in one table.
    """

    rates: SharedRates
    per_minute: int
    fallback: RateLimiter
    scope: str = "user"

    async def acquire(self, user_id: str) -> None:
        if self.per_minute <= 0:
            return  # 0 turns the limit off
        try:
            wait = await self.rates.take(f"{self.scope}:{user_id}", self.per_minute)
        except StoreUnavailable:
            await self.fallback.acquire(user_id)
            return
        except StoreFailed as exc:
            # Not an outage, a fault (a missing table?): still no reason to refuse service.
            _log.error("shared rate limit failed, counting in this process: %s", exc)
            await self.fallback.acquire(user_id)
            return
        if wait is not None:
            raise RateLimited(wait)


@attrs.frozen
class SharedStreamSlots:
    """``local``'s caps (per process, and per user in this process) first, then the user's
    cap across every process, held as a slot in ``locks``."""

    local: StreamSlots
    locks: StreamSlotLocks

    async def take(self, user_id: str) -> Callable[[], None]:
        # This process's own count of the user's answers is part of the deployment's, so a
        # refusal here is right without asking the database.
        release_local = await self.local.take(user_id)
        try:
            slot = await self.locks.take(user_id, self.local.per_user)
        except (StoreUnavailable, StoreFailed):
            return release_local
        except BaseException:
            release_local()
            raise
        if slot is None:
            release_local()
            raise TooManyStreams.for_user(self.local.per_user)

        def release() -> None:
            release_local()
            self.locks.release(slot)

        return release

"""Per-user request rate (token bucket) and concurrent-stream caps, in this process.

In-process state, owned by one app. :class:`RateLimiter` and :class:`StreamCap` are the
seams where limits shared by many processes plug in (``_sharedlimits``, on PostgreSQL):
both are async so a shared implementation can do I/O.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from functools import partial
from typing import Protocol

import attrs
import trio

__all__ = [
    "RateLimited",
    "RateLimiter",
    "StreamCap",
    "StreamSlots",
    "TokenBucketLimiter",
    "TooManyStreams",
]


def whole_seconds(seconds: float) -> int:
    """``seconds`` as ``Retry-After`` says it: whole seconds, rounded up, at least one (so a
    client never comes back before it may, and a message never says "retry in 0 s")."""
    return max(1, math.ceil(seconds))


class RateLimited(Exception):
    """The user has used up their request budget; ``retry_after`` seconds until the next."""

    def __init__(self, retry_after: float) -> None:
        super().__init__(f"too many requests; retry in {whole_seconds(retry_after)} s")
        self.retry_after = retry_after


class TooManyStreams(Exception):
    """Too many answers are streaming already (for this user, or for the whole server)."""

    @classmethod
    def for_user(cls, cap: int) -> TooManyStreams:
        return cls(f"at most {cap} answers may stream at once for one user")


class RateLimiter(Protocol):
    async def acquire(self, user_id: str) -> None:
        """Take one request from ``user_id``'s budget or raise :class:`RateLimited`."""


class StreamCap(Protocol):
    async def take(self, user_id: str) -> Callable[[], None]:
        """Hold one of ``user_id``'s stream slots or raise :class:`TooManyStreams`; returns
        the slot's release, to call once (it must not block or raise)."""


@attrs.define
class _Bucket:
    tokens: float
    updated: float


@attrs.define
class TokenBucketLimiter:
    """``per_minute`` requests a minute per user, with bursts up to the same number.

    Buckets of idle users are dropped once full again, so memory follows active users.
    """

    per_minute: int
    clock: Callable[[], float] = trio.current_time
    _buckets: dict[str, _Bucket] = attrs.field(factory=dict, init=False)

    async def acquire(self, user_id: str) -> None:
        if self.per_minute <= 0:
            return  # 0 turns the limit off
        now = self.clock()
        rate = self.per_minute / 60.0
        bucket = self._buckets.get(user_id)
        if bucket is None:
            bucket = self._buckets[user_id] = _Bucket(float(self.per_minute), now)
            self._forget_idle(now)
        bucket.tokens = min(float(self.per_minute), bucket.tokens + (now - bucket.updated) * rate)
        bucket.updated = now
        if bucket.tokens < 1.0:
            raise RateLimited((1.0 - bucket.tokens) / rate)
        bucket.tokens -= 1.0

    def _forget_idle(self, now: float) -> None:
        if len(self._buckets) < 10_000:
            return
        full_after = 60.0  # an empty bucket refills completely within a minute
        for user_id in [u for u, b in self._buckets.items() if now - b.updated > full_after]:
            del self._buckets[user_id]


@attrs.define
class StreamSlots:
    """Counts streaming answers per user and in total; over a cap, refuse new ones."""

    per_user: int
    total: int
    _by_user: dict[str, int] = attrs.field(factory=dict, init=False)
    _active: int = attrs.field(default=0, init=False)

    @property
    def active(self) -> int:
        return self._active

    def acquire(self, user_id: str) -> None:
        if self._active >= self.total:
            raise TooManyStreams(f"the server is streaming {self.total} answers already")
        mine = self._by_user.get(user_id, 0)
        if mine >= self.per_user:
            raise TooManyStreams.for_user(self.per_user)
        self._by_user[user_id] = mine + 1
        self._active += 1

    async def take(self, user_id: str) -> Callable[[], None]:
        self.acquire(user_id)
        return partial(self.release, user_id)

    def release(self, user_id: str) -> None:
        mine = self._by_user.get(user_id, 0) - 1
        if mine <= 0:
            self._by_user.pop(user_id, None)
        else:
            self._by_user[user_id] = mine
        self._active -= 1

"""What every request passes before it reaches chatkit: auth, limits, metrics."""

from __future__ import annotations

import attrs

from robolearn.config import Settings
from robolearn.obs import Metrics
from robolearn.store import SharedRates, StreamSlotLocks

from ._auth import Authenticator
from ._ratelimit import RateLimiter, StreamCap, StreamSlots, TokenBucketLimiter
from ._sharedlimits import SharedRateLimiter, SharedStreamSlots

__all__ = ["FrontDoor"]


@attrs.frozen
class FrontDoor:
    """Per-app request policy. Built once by ``create_app``; tests may pass their own."""

    auth: Authenticator
    limiter: RateLimiter
    streams: StreamCap
    metrics: Metrics
    max_message_chars: int

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        rates: SharedRates | None = None,
        stream_locks: StreamSlotLocks | None = None,
    ) -> FrontDoor:
        """The policy ``settings`` describe; with ``rates`` and ``stream_locks`` the per-user
        limits hold across every process on their database."""
        limiter: RateLimiter = TokenBucketLimiter(settings.rate_limit_per_minute)
        if rates is not None:
            limiter = SharedRateLimiter(rates, settings.rate_limit_per_minute, limiter)
        streams: StreamCap = StreamSlots(settings.max_streams_per_user, settings.max_streams)
        if stream_locks is not None:
            streams = SharedStreamSlots(
                StreamSlots(settings.max_streams_per_user, settings.max_streams), stream_locks
            )
        return cls(
            auth=Authenticator.from_settings(settings),
            limiter=limiter,
            streams=streams,
            metrics=metrics or Metrics(),
            max_message_chars=settings.max_message_chars,
        )

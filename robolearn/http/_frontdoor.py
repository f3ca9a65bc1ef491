"""What every request passes before it reaches chatkit: auth, limits, metrics."""

from __future__ import annotations

import attrs

from robolearn.config import Settings
from robolearn.obs import Metrics

from ._auth import Authenticator
from ._ratelimit import RateLimiter, StreamSlots, TokenBucketLimiter

__all__ = ["FrontDoor"]


@attrs.frozen
class FrontDoor:
    """Per-app request policy. Built once by ``create_app``; tests may pass their own."""

    auth: Authenticator
    limiter: RateLimiter
    streams: StreamSlots
    metrics: Metrics
    max_message_chars: int

    @classmethod
    def from_settings(cls, settings: Settings, metrics: Metrics | None = None) -> FrontDoor:
        return cls(
            auth=Authenticator.from_settings(settings),
            limiter=TokenBucketLimiter(settings.rate_limit_per_minute),
            streams=StreamSlots(settings.max_streams_per_user, settings.max_streams),
            metrics=metrics or Metrics(),
            max_message_chars=settings.max_message_chars,
        )

"""Who may ask, and how much: the one check every route makes before it does any work.

Both the ``/chatkit`` fast path and the Quart routes call the same `Gate`: the user from the
headers alone (401), the user's request budget (429), the concurrent answers a user and the
process may stream (429), the preview budget of an attachment (429), and the longest body a
route may read (413).
"""

from __future__ import annotations

import attrs

from robolearn.config import Settings
from robolearn.obs import Metrics
from robolearn.store import SharedRates, StreamSlotLocks

from ._auth import Authenticator, RequestHeaders
from ._errors import HttpError
from ._ratelimit import (
    RateLimited,
    RateLimiter,
    StreamCap,
    StreamSlots,
    TokenBucketLimiter,
    whole_seconds,
)
from ._sharedlimits import SharedRateLimiter, SharedStreamSlots

__all__ = ["MULTIPART_OVERHEAD", "Gate"]

# Room for a multipart body's boundary and part headers around an uploaded file's bytes.
MULTIPART_OVERHEAD = 16 << 10


@attrs.frozen
class Gate:
    """Per-app request policy. Built once by ``create_app``; tests may pass their own."""

    auth: Authenticator
    limiter: RateLimiter  # requests per user
    streams: StreamCap  # answers streaming at once, per user and per process
    previews: RateLimiter  # preview loads per attachment (a link may leak)
    metrics: Metrics
    max_body_bytes: int  # a /chatkit request
    max_upload_bytes: int  # an upload route's body, file and multipart framing

    @classmethod
    def from_settings(
        cls,
        settings: Settings,
        metrics: Metrics | None = None,
        *,
        rates: SharedRates | None = None,
        stream_locks: StreamSlotLocks | None = None,
    ) -> Gate:
        """The policy ``settings`` describe; with ``rates`` and ``stream_locks`` the per-user
        and per-attachment limits hold across every process on their database."""
        limiter: RateLimiter = TokenBucketLimiter(settings.rate_limit_per_minute)
        previews: RateLimiter = TokenBucketLimiter(settings.preview_rate_per_minute)
        if rates is not None:
            limiter = SharedRateLimiter(rates, settings.rate_limit_per_minute, limiter)
            previews = SharedRateLimiter(
                rates, settings.preview_rate_per_minute, previews, "preview"
            )
        streams: StreamCap = StreamSlots(settings.max_streams_per_user, settings.max_streams)
        if stream_locks is not None:
            streams = SharedStreamSlots(
                StreamSlots(settings.max_streams_per_user, settings.max_streams), stream_locks
            )
        return cls(
            auth=Authenticator.from_settings(settings),
            limiter=limiter,
            streams=streams,
            previews=previews,
            metrics=metrics or Metrics(),
            max_body_bytes=settings.max_body_bytes,
            max_upload_bytes=settings.max_attachment_bytes + MULTIPART_OVERHEAD,
        )

    @property
    def max_any_body(self) -> int:
        """The longest body any route may read: the outer bound Quart enforces."""
        return max(self.max_body_bytes, self.max_upload_bytes)

    async def admit(self, headers: RequestHeaders) -> str:
        """The user asking, once they are authenticated and within their request budget."""
        user_id = await self.auth.authenticate(headers)
        await self.limiter.acquire(user_id)
        return user_id

    async def admit_preview(self, attachment_id: str) -> None:
        """One load of ``attachment_id``'s preview, within its budget."""
        try:
            await self.previews.acquire(attachment_id)
        except RateLimited as exc:
            self.metrics.rate_limited.labels("preview_rate_limited").inc()
            raise HttpError(
                429,
                "preview_rate_limited",
                f"this attachment's preview was loaded too often; retry in"
                f" {whole_seconds(exc.retry_after)} s",
                retry_after=exc.retry_after,
            ) from None

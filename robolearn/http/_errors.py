"""Every failure a client can cause or see, mapped to one HTTP answer in one place.

Bodies are always JSON ``{"error": {"code", "message"}}``; bad input never yields a 500 or a
logged traceback, and an unexpected exception is logged and answered 500 without one. The
``/chatkit`` fast path renders what its handler raises with `from_exception`; every Quart
route (and Quart's own 404, 405 and 413) through `error_response`, its one error handler.
"""

from __future__ import annotations

import json
import logging

import attrs
from pydantic import ValidationError
from quart import Response
from werkzeug.exceptions import HTTPException

from robolearn.actors import ActorCrashed, ActorError, MailboxFull, SystemShuttingDown
from robolearn.chat import NotConfigured, PreviewRefused
from robolearn.store import (
    LimitExceeded,
    NotFoundError,
    PayloadTooLarge,
    StoreUnavailable,
    TooLong,
    UploadConflict,
)

from ._exchange import Answer
from ._ratelimit import RateLimited, TooManyStreams, whole_seconds

__all__ = ["HttpError", "error_event", "error_response", "from_exception"]

_log = logging.getLogger("robolearn.http")

# What a client is told when shutdown (a deploy, a restart) stops its request or answer.
_RESTARTING = "The server is restarting; please try again in a moment."


@attrs.frozen(eq=False)  # identity hash: exceptions travel through sets in tracebacks
class HttpError(Exception):
    """An HTTP error answer; raise it from a route, or build one with :func:`from_exception`."""

    status: int
    code: str
    message: str
    retry_after: float | None = None
    headers: dict[str, str] = attrs.field(factory=dict, kw_only=True)

    def answer(self) -> Answer:
        """The answer for the plain ASGI route (``/chatkit``)."""
        headers = dict(self.headers)
        if self.retry_after is not None:
            headers["Retry-After"] = str(whole_seconds(self.retry_after))
        body = json.dumps({"error": {"code": self.code, "message": self.message}}).encode()
        return Answer(self.status, "application/json", body, headers=headers)

    def response(self) -> Response:
        """The same answer for a Quart route."""
        answer = self.answer()
        response = Response(answer.body, status=answer.status, content_type=answer.content_type)
        response.headers.update(answer.headers)
        return response

    def sse_event(self) -> bytes:
        """The same failure as a ChatKit ``error`` event, once a stream has started."""
        return error_event(self.message, allow_retry=self.status >= 500 or self.status == 429)


async def error_response(exc: Exception) -> Response:
    """Quart's handler for whatever a route raises, and for its own refusals."""
    return from_exception(exc).response()


def error_event(message: str, *, allow_retry: bool) -> bytes:
    event = {"type": "error", "code": "custom", "message": message, "allow_retry": allow_retry}
    return b"data: " + json.dumps(event).encode() + b"\n\n"


def from_exception(exc: BaseException) -> HttpError:
    """The HTTP answer for ``exc``. Unexpected exceptions are logged and become a 500."""
    match exc:
        case HttpError():
            return exc
        case HTTPException():
            # Quart's (werkzeug's) own refusals: a body over MAX_CONTENT_LENGTH, one that
            # stalled past BODY_TIMEOUT, an unknown route.
            code = (exc.name or "error").lower().replace(" ", "_")
            # A 405 says which methods the route takes (RFC 9110 requires it).
            allow = {name: value for name, value in exc.get_headers() if name == "Allow"}
            return HttpError(exc.code or 500, code, exc.description or exc.name, headers=allow)
        case TooLong():
            return HttpError(400, exc.code, str(exc))
        case LimitExceeded():
            return HttpError(413, exc.code, str(exc))
        case UploadConflict():
            return HttpError(409, exc.code, str(exc))
        case PreviewRefused():
            code = "preview_link_expired" if exc.expired else "preview_link_invalid"
            return HttpError(403, code, str(exc))
        case NotFoundError():
            return HttpError(404, "not_found", str(exc) or "not found")
        case PayloadTooLarge():
            return HttpError(413, "payload_too_large", str(exc))
        case ValidationError():
            return HttpError(400, "invalid_request", _describe(exc))
        case RateLimited():
            return HttpError(429, "rate_limited", str(exc), retry_after=exc.retry_after)
        case TooManyStreams():
            return HttpError(429, "too_many_streams", str(exc), retry_after=1)
        case MailboxFull():
            # Its own message names the actor's key: the user's and thread's ids.
            return HttpError(
                429,
                "thread_busy",
                f"this thread has {exc.capacity} messages waiting to be answered already;"
                f" retry in {whole_seconds(exc.retry_after)} s",
                retry_after=exc.retry_after,
            )
        case SystemShuttingDown():
            return HttpError(503, "shutting_down", _RESTARTING, retry_after=1)
        case StoreUnavailable():
            return HttpError(503, "database_unavailable", "the database is unavailable; retry", 5)
        case ActorCrashed():
            _log.error("turn crashed: %s", exc)
            return HttpError(500, "internal_error", "the request failed; it may be retried")
        case ActorError():
            return HttpError(503, "interrupted", str(exc), retry_after=1)
        case ValueError():
            return HttpError(400, "invalid_request", str(exc))
        case NotConfigured():
            return HttpError(501, "not_configured", str(exc))
        case NotImplementedError():
            # chatkit's hooks this server does not implement (widget actions).
            return HttpError(501, "not_implemented", "this request type is not supported here")
    _log.error("unexpected error", exc_info=exc)
    return HttpError(500, "internal_error", "internal error")


def _describe(exc: ValidationError) -> str:
    errors = exc.errors(include_url=False)
    first = errors[0]
    where = ".".join(str(part) for part in first["loc"]) or "body"
    more = f" (and {len(errors) - 1} more problems)" if len(errors) > 1 else ""
    return f"{where}: {first['msg']}{more}"

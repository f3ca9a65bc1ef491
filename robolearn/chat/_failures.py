"""A failed answer, told to a person: what went wrong, and whether trying again may help.

chatkit turns any exception in ``respond`` into an ``error`` event without a message, which
the widget can only show as "something went wrong". Provider failures (rate limits, outages,
timeouts, a stream cut mid-answer) are common with a remote model and each has a plain
explanation; the transient ones allow a retry. The openai client has already retried what was
safe to retry (a request that failed before its answer started, see ``_models``).
"""

from __future__ import annotations

import logging

import httpx2
import openai
from agents.exceptions import MaxTurnsExceeded, ModelBehaviorError
from chatkit.errors import CustomStreamError

from robolearn.store import StoreUnavailable

__all__ = ["as_stream_error"]

_log = logging.getLogger("robolearn.chat")


def as_stream_error(exc: Exception) -> CustomStreamError:
    """The ``error`` event for ``exc``, raised out of a turn; logs what a person cannot see."""
    match exc:
        case CustomStreamError():
            return exc
        case openai.RateLimitError():
            _log.warning("model provider rate limit: %s", _status_line(exc))
            return _retryable(
                "The AI model is receiving too many requests right now. "
                "Please wait a moment and try again."
            )
        case openai.APITimeoutError() | httpx2.TimeoutException():
            _log.warning("model provider timed out: %r", exc)
            return _retryable("The AI model took too long to answer. Please try again.")
        case openai.APIConnectionError() | httpx2.TransportError():
            # Also a stream cut mid-answer: httpx2 raises while the SDK reads the body.
            _log.warning("model provider connection failed: %r", exc)
            return _retryable(
                "The connection to the AI model was lost before the answer was complete. "
                "Please try again."
            )
        case openai.APIStatusError() if exc.status_code >= 500:
            _log.warning("model provider error: %s", _status_line(exc))
            return _retryable(
                f"The AI model's service had an error (HTTP {exc.status_code}). "
                "Please try again in a moment."
            )
        case openai.APIStatusError():
            # Credentials, model name, a request the provider refuses: retrying cannot help,
            # the operator must fix the configuration.
            _log.error("model provider refused the request: %s", _status_line(exc))
            return CustomStreamError(
                f"The AI model refused the request (HTTP {exc.status_code}). "
                "Please tell the site's administrators.",
                allow_retry=False,
            )
        case StoreUnavailable():
            _log.warning("database unavailable during the answer: %s", exc)
            return _retryable("The answer could not be saved just now. Please try again.")
        case MaxTurnsExceeded() | ModelBehaviorError():
            _log.warning("the model misbehaved: %r", exc)
            return _retryable(
                "The AI model gave an answer that could not be used. Please try again."
            )
    _log.error("the answer failed", exc_info=exc)
    return _retryable("Something went wrong while answering. Please try again.")


def _retryable(message: str) -> CustomStreamError:
    return CustomStreamError(message, allow_retry=True)


def _status_line(exc: openai.APIStatusError) -> str:
    # The provider's own message can quote the request; keep the log to its status and code.
    return f"HTTP {exc.status_code} ({exc.code or exc.type or 'no code'})"

"""Typed store errors; the HTTP layer maps each to one status code."""

from __future__ import annotations

from chatkit.store import NotFoundError

__all__ = [
    "InvalidStoreInput",
    "LimitExceeded",
    "NotFoundError",
    "PayloadTooLarge",
    "StoreFailed",
    "StoreUnavailable",
    "TooLong",
    "UploadConflict",
]


class StoreUnavailable(Exception):
    """The database cannot be reached right now; the request may be retried later."""


class InvalidStoreInput(ValueError):
    """An argument the store refuses before touching the database (bad id, limit, order)."""


class PayloadTooLarge(InvalidStoreInput):
    """A thread, item or attachment serialises to more bytes than the store accepts."""


class LimitExceeded(InvalidStoreInput):
    """A request would go over one of the server's quotas or sizes; ``code`` names which.

    The message says what the limit is and what to do about it: clients show it as it is.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class TooLong(LimitExceeded):
    """A text (a title, a name) is longer than its limit."""


class UploadConflict(InvalidStoreInput):
    """An upload to a slot that can no longer take one (its bytes arrived, or it is in use)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class StoreFailed(Exception):
    """The database refused an operation for a reason other than the caller's input.

    Its message names the error class and SQLSTATE only: the driver's own message can quote
    the data (user text), which must never reach a log line or an answer.
    """

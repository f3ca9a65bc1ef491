"""Typed store errors; the HTTP layer maps each to one status code."""

from __future__ import annotations

from chatkit.store import NotFoundError

__all__ = [
    "InvalidStoreInput",
    "NotFoundError",
    "PayloadTooLarge",
    "StoreFailed",
    "StoreUnavailable",
]


class StoreUnavailable(Exception):
    """The database cannot be reached right now; the request may be retried later."""


class InvalidStoreInput(ValueError):
    """An argument the store refuses before touching the database (bad id, limit, order)."""


class PayloadTooLarge(InvalidStoreInput):
    """A thread, item or attachment serialises to more bytes than the store accepts."""


class StoreFailed(Exception):
    """The database refused an operation for a reason other than the caller's input.

    Its message names the error class and SQLSTATE only: the driver's own message can quote
    the data (user text), which must never reach a log line or an answer.
    """

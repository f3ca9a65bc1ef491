"""Typed store errors; the HTTP layer maps each to one status code."""

from __future__ import annotations

from chatkit.store import NotFoundError

__all__ = [
    "InvalidStoreInput",
    "NotFoundError",
    "PayloadTooLarge",
    "StoreUnavailable",
    "UploadConflict",
]


class StoreUnavailable(Exception):
    """The database cannot be reached right now; the request may be retried later."""


class InvalidStoreInput(ValueError):
    """An argument the store refuses before touching the database (bad id, limit, order)."""


class PayloadTooLarge(InvalidStoreInput):
    """A thread, item or attachment serialises to more bytes than the store accepts."""


class UploadConflict(InvalidStoreInput):
    """An upload to a slot that can no longer take one (its bytes arrived, or it is in use)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

"""Who is calling. The user id comes from here only, never from the request body."""

from __future__ import annotations

import re

from quart import Request

from robolearn.config import Settings

from ._errors import HttpError

__all__ = ["authenticate"]

_USER_ID = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.@:\-]{0,127}$")


def authenticate(request: Request, settings: Settings) -> str:
    """The caller's user id, or :class:`HttpError` 401."""
    if settings.auth == "dev":
        user_id = request.headers.get("X-User-ID", "").strip()
        if not user_id:
            raise HttpError(401, "unauthenticated", "send the user id in the X-User-ID header")
        if not _USER_ID.match(user_id):
            raise HttpError(
                401, "unauthenticated", "X-User-ID must be 1-128 letters, digits or _.@:-"
            )
        return user_id
    raise HttpError(
        401,
        "unauthenticated",
        "bearer-token authentication is not configured on this server; "
        "start it with ROBOLEARN_AUTH=dev for local use",
    )

"""Plain-ASGI plumbing: read a request body, send a JSON answer, render errors in one place.

Every error the stand-in gives is OpenAI's shape, ``{"error": {"message", "type", "code"}}``,
so a client under test parses it the way it parses the real provider's.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any

import attrs
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, HTTPScope

from ._frames import dumps

__all__ = ["ClientGone", "HttpError", "error_type", "header", "read_body", "read_json", "send_json"]

_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    408: "timeout",
    409: "conflict_error",
    422: "invalid_request_error",
    429: "rate_limit_error",
}


def error_type(status: int) -> str:
    """OpenAI's ``error.type`` for an HTTP status."""
    return _ERROR_TYPES.get(status, "server_error" if status >= 500 else "invalid_request_error")


class ClientGone(Exception):
    """The client disconnected before its request body was read: nothing to answer."""


@attrs.frozen(eq=False)  # identity hash: exceptions travel through sets in tracebacks
class HttpError(Exception):
    """An error answer; raise it from a route before the response has started."""

    status: int
    message: str
    code: str | None = None
    retry_after: float | None = None

    def body(self) -> dict[str, Any]:
        return {
            "error": {
                "message": self.message,
                "type": error_type(self.status),
                "param": None,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        if self.retry_after is None:
            return {}
        return {
            "retry-after": str(math.ceil(self.retry_after)),
            "retry-after-ms": str(round(self.retry_after * 1000)),
        }


def header(scope: HTTPScope, name: bytes) -> str | None:
    """The first header called ``name`` (lower case), decoded as latin-1."""
    for key, value in scope["headers"]:
        if key.lower() == name:
            return value.decode("latin-1")
    return None


async def read_body(receive: ASGIReceiveCallable) -> bytes:
    """The whole request body; raises `ClientGone` if the client left first."""
    chunks: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ClientGone
        if message["type"] == "http.request":
            chunks.append(message.get("body", b""))
            if not message.get("more_body", False):
                return b"".join(chunks)


async def read_json(receive: ASGIReceiveCallable) -> tuple[dict[str, Any], int]:
    """The body parsed as a JSON object, and its size in bytes."""
    raw = await read_body(receive)
    try:
        doc = json.loads(raw) if raw else {}
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise HttpError(400, f"the body is not JSON: {exc}", "invalid_json") from exc
    if not isinstance(doc, dict):
        raise HttpError(400, "the body must be a JSON object", "invalid_json")
    return doc, len(raw)


async def send_json(
    send: ASGISendCallable, status: int, doc: Any, headers: Mapping[str, str] = {}
) -> None:
    body = dumps(doc).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                *((name.encode(), value.encode()) for name, value in headers.items()),
            ],
            "trailers": False,
        }
    )
    await send({"type": "http.response.body", "body": body, "more_body": False})

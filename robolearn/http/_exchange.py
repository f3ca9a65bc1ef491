"""One HTTP request and its answer on plain ASGI: what `/chatkit` handling reads and returns.

The hot route does not go through Quart (see ``_front``), so it needs its own small request
(headers, the body read on demand) and answer (a JSON body or a stream of SSE chunks) types.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping

import attrs
from hypercorn.typing import ASGIReceiveCallable, HTTPScope

__all__ = ["Answer", "ClientGone", "Headers", "Incoming", "request_id_for"]

_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")


def request_id_for(header: str | None) -> str:
    """The request's id: the client's ``X-Request-ID`` if it is safe to log and echo, else a
    new one. One id per request, in every log line and echoed back, so a user's report can be
    matched to the server's logs."""
    return header if header is not None and _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex


class ClientGone(Exception):
    """The client disconnected before its request body arrived: there is nobody to answer."""


class Headers:
    """Request headers by case-insensitive name; the first of repeated ones wins."""

    __slots__ = ("_values",)

    def __init__(self, raw: Iterable[tuple[bytes, bytes]]) -> None:
        self._values: dict[str, str] = {}
        for name, value in raw:
            self._values.setdefault(name.decode("latin-1").lower(), value.decode("latin-1"))

    def get(self, key: str, default: str = "") -> str:
        return self._values.get(key.lower(), default)


class Incoming:
    """An ASGI HTTP request: its headers at once, its body when asked for."""

    __slots__ = ("_receive", "_scope", "headers")

    def __init__(self, scope: HTTPScope, receive: ASGIReceiveCallable) -> None:
        self._scope = scope
        self._receive = receive
        self.headers = Headers(scope["headers"])

    @property
    def content_length(self) -> int | None:
        value = self.headers.get("content-length")
        return int(value) if value.isdigit() else None

    async def read_body(self, limit: int) -> bytes | None:
        """The whole body, or None as soon as it is longer than ``limit`` bytes."""
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await self._receive()
            if message["type"] != "http.request":
                raise ClientGone  # http.disconnect
            chunk = message["body"]
            size += len(chunk)
            if size > limit:
                return None
            chunks.append(chunk)
            if not message["more_body"]:
                return b"".join(chunks)


async def _nothing_held() -> None:
    return None


@attrs.frozen
class Answer:
    """A response: ``body``, or ``stream`` (its chunks sent as they come, then it is closed).

    ``release`` frees what a stream holds once the response is over, however it ended: a
    stream closed before its first chunk never runs its own cleanup.
    """

    status: int
    content_type: str
    body: bytes = b""
    stream: AsyncGenerator[bytes, None] | None = None
    headers: Mapping[str, str] = attrs.field(factory=dict)
    release: Callable[[], Awaitable[None]] = _nothing_held

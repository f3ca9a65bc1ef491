"""One HTTP request and its answer on plain ASGI: what `/chatkit` handling reads and returns,
and how an answer is sent.

The hot route does not go through Quart (see ``_fast_path``), so it needs its own small
request (headers, the body read on demand) and answer (a JSON body or a stream of SSE chunks)
types. The pipeline's middleware (`HttpMiddleware`) sees the same requests, and what answers
by itself (the body guard's 408) sends the same answers.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Awaitable, Callable, Iterable, Mapping
from contextlib import aclosing

import attrs
import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseStartEvent,
    HTTPScope,
    Scope,
)

__all__ = ["Answer", "ClientGone", "Headers", "HttpMiddleware", "Incoming", "send_answer"]


class HttpMiddleware:
    """ASGI middleware for HTTP requests (`http`); lifespan events pass straight to ``app``."""

    def __init__(self, app: ASGIFramework) -> None:
        self.app = app

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] == "http":
            await self.http(scope, receive, send)
        else:
            await self.app(scope, receive, send)

    async def http(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        """Serve one HTTP request (``self.app`` serves the rest of the pipeline)."""
        raise NotImplementedError


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


async def send_answer(answer: Answer, receive: ASGIReceiveCallable, send: ASGISendCallable) -> None:
    """Send ``answer``; a stream is cut when the client leaves, and released however it ends."""
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", answer.content_type.encode()),
        *((name.lower().encode(), value.encode()) for name, value in answer.headers.items()),
    ]
    if answer.stream is None:
        headers.append((b"content-length", str(len(answer.body)).encode()))
        await send(_start(answer.status, headers))
        await send({"type": "http.response.body", "body": answer.body, "more_body": False})
        return
    try:
        async with aclosing(answer.stream) as chunks, trio.open_nursery() as nursery:
            nursery.start_soon(_cancel_on_disconnect, receive, nursery.cancel_scope)
            await send(_start(answer.status, headers))
            async for chunk in chunks:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            nursery.cancel_scope.cancel()
    finally:
        # Also when the client left before the first chunk was asked for.
        with trio.CancelScope(shield=True):
            await answer.release()


def _start(status: int, headers: list[tuple[bytes, bytes]]) -> HTTPResponseStartEvent:
    return {"type": "http.response.start", "status": status, "headers": headers}


async def _cancel_on_disconnect(receive: ASGIReceiveCallable, scope: trio.CancelScope) -> None:
    # The body has been read: what is left to receive is the client leaving.
    while (await receive())["type"] != "http.disconnect":
        pass
    scope.cancel()

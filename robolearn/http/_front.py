"""The server's ASGI app: ``/chatkit`` answered here on plain ASGI, every other route by Quart.

``/chatkit`` carries nearly all the traffic, and Quart's per-request machinery was a tenth of
a busy server's CPU: quart-trio runs every request as a nursery with two tasks (one reads the
body and watches for a disconnect, one handles it), then a request context, hooks, werkzeug
headers and a Response object, and it sends each chunk of a streamed body inside a timeout
scope. Here a request is read in the task Hypercorn started for it, and only a streamed
answer gets one more task: the one that notices the client leaving.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from contextlib import aclosing

import trio
from hypercorn.typing import (
    ASGIFramework,
    ASGIReceiveCallable,
    ASGISendCallable,
    HTTPResponseStartEvent,
    Scope,
)

from robolearn.obs import bind_log_context

from ._errors import HttpError
from ._exchange import Answer, ClientGone, Incoming, request_id_for

__all__ = ["CHATKIT_PATH", "HttpFront", "send_answer"]

CHATKIT_PATH = "/chatkit"


class HttpFront:
    """``POST /chatkit`` to ``chatkit``; anything else (other paths, lifespan) to ``app``."""

    def __init__(
        self, app: ASGIFramework, chatkit: Callable[[Incoming], Awaitable[Answer]]
    ) -> None:
        self.app = app
        self._chatkit = chatkit

    async def __call__(
        self, scope: Scope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["type"] != "http" or scope["path"] != CHATKIT_PATH:
            await self.app(scope, receive, send)
            return
        incoming = Incoming(scope, receive)
        request_id = request_id_for(incoming.headers.get("x-request-id"))
        with bind_log_context(request_id=request_id):
            if scope["method"] != "POST":
                answer = HttpError(
                    405,
                    "method_not_allowed",
                    "The method is not allowed for the requested URL.",
                    headers={"Allow": "POST"},
                ).answer()
            else:
                try:
                    answer = await self._chatkit(incoming)
                except ClientGone:
                    return
            await send_answer(answer, request_id, receive, send)


async def send_answer(
    answer: Answer, request_id: str, receive: ASGIReceiveCallable, send: ASGISendCallable
) -> None:
    """Send ``answer``, tagged with ``request_id``; a stream is cut when the client leaves,
    and released however it ends."""
    headers: list[tuple[bytes, bytes]] = [
        (b"content-type", answer.content_type.encode()),
        (b"x-request-id", request_id.encode()),
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

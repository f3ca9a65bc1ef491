"""``POST /chatkit`` answered on plain ASGI, in front of the Quart app that serves the rest.

``/chatkit`` carries nearly all the traffic, and Quart's per-request machinery was a tenth of
a busy server's CPU: quart-trio runs every request as a nursery with two tasks (one reads the
body and watches for a disconnect, one handles it), then a request context, hooks, werkzeug
headers and a Response object, and it sends each chunk of a streamed body inside a timeout
scope. Here a request is read in the task Hypercorn started for it, and only a streamed
answer gets one more task: the one that notices the client leaving.

What every route shares (request id, CORS, body pace) is middleware outside this one; who
may ask and how much is the `Gate` both this path and the Quart routes call.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from hypercorn.typing import ASGIFramework, ASGIReceiveCallable, ASGISendCallable, HTTPScope

from ._errors import HttpError
from ._exchange import Answer, ClientGone, HttpMiddleware, Incoming, send_answer

__all__ = ["CHATKIT_PATH", "ChatkitFastPath"]

CHATKIT_PATH = "/chatkit"


class ChatkitFastPath(HttpMiddleware):
    """ASGI middleware: ``/chatkit`` to ``chatkit``; anything else (other paths, lifespan) to
    ``app``."""

    def __init__(
        self, app: ASGIFramework, chatkit: Callable[[Incoming], Awaitable[Answer]]
    ) -> None:
        super().__init__(app)
        self._chatkit = chatkit

    async def http(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        if scope["path"] != CHATKIT_PATH:
            await self.app(scope, receive, send)
            return
        if scope["method"] != "POST":
            answer = HttpError(
                405,
                "method_not_allowed",
                "The method is not allowed for the requested URL.",
                headers={"Allow": "POST"},
            ).answer()
        else:
            try:
                answer = await self._chatkit(Incoming(scope, receive))
            except ClientGone:
                return
        await send_answer(answer, receive, send)

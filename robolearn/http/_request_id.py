"""The request id, for every route: read from ``X-Request-ID`` or made, bound to every log line
of the request, and echoed on its answer (JSON, stream, error, preflight alike).

One id per request, so a user's report can be matched to the server's logs.
"""

from __future__ import annotations

import logging
import re
import uuid

from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable, ASGISendEvent, HTTPScope

from robolearn.obs import bind_log_context

from ._exchange import HttpMiddleware

__all__ = ["RequestIds", "request_id_for"]

_log = logging.getLogger("robolearn.http")

_REQUEST_ID = re.compile(r"[A-Za-z0-9_.:\-]{1,128}")
_HEADER = b"x-request-id"


def request_id_for(header: str | None) -> str:
    """The client's ``X-Request-ID`` if it is safe to log and echo, else a new id."""
    return header if header is not None and _REQUEST_ID.fullmatch(header) else uuid.uuid4().hex


class RequestIds(HttpMiddleware):
    """ASGI middleware: each HTTP request gets its id, its log context and the id echoed back.

    Outermost, so whatever answers inside (CORS, the body guard, the ``/chatkit`` fast path,
    Quart and its error handler) is tagged, and every task the request starts logs its id.
    """

    async def http(
        self, scope: HTTPScope, receive: ASGIReceiveCallable, send: ASGISendCallable
    ) -> None:
        given = next((value for name, value in scope["headers"] if name.lower() == _HEADER), None)
        request_id = request_id_for(None if given is None else given.decode("latin-1"))
        tag = (_HEADER, request_id.encode())

        async def send_tagged(message: ASGISendEvent) -> None:
            if message["type"] == "http.response.start":
                message["headers"] = [*message["headers"], tag]
                # Debug only: a trace of every answer with its request id, no cost otherwise.
                _log.debug("%s %s: %d", scope["method"], scope["path"], message["status"])
            await send(message)

        with bind_log_context(request_id=request_id):
            await self.app(scope, receive, send_tagged)

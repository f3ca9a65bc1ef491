"""CORS in front of every route: the ChatKit widget runs on the textbook's site, another origin.

Starlette's ``CORSMiddleware`` (pure ASGI: nothing in it needs asyncio) speaks the protocol:
it answers preflights, and adds the ``Access-Control-*`` headers to every answer of an
allowed origin, errors and streams alike. It only rewrites ``http.response.start``; body
messages pass through as they come, so SSE events are not held back.

One rule it lacks is kept here: an origin outside the list gets no CORS headers at all.
Starlette adds ``Access-Control-Allow-Credentials`` and ``-Expose-Headers`` to every
cross-origin answer and only leaves out ``-Allow-Origin`` (Kludex/starlette#2560); and it
answers a refused preflight 400 with the allowed methods and headers in it. Here a refused
preflight gets a 403 JSON error without them, and never reaches a route.
"""

from __future__ import annotations

from typing import cast

from hypercorn.typing import ASGIFramework
from starlette.datastructures import Headers, MutableHeaders
from starlette.middleware.cors import CORSMiddleware
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from robolearn.config import Settings

from ._errors import HttpError

__all__ = ["Cors", "with_cors"]

METHODS = ("GET", "POST", "PUT", "DELETE", "OPTIONS")
REQUEST_HEADERS = ("Authorization", "Content-Type", "X-Request-ID")
DEV_REQUEST_HEADERS = ("X-User-ID",)  # only where ROBOLEARN_AUTH=dev trusts it
EXPOSED_HEADERS = ("Retry-After", "X-Request-ID")
MAX_AGE = 600  # seconds a browser may reuse a preflight answer


def with_cors(app: ASGIFramework, settings: Settings) -> ASGIFramework:
    """``app`` behind CORS for ``settings.cors_origins``; ``app`` itself when there are none
    (same origin only: no CORS headers, no preflight answers)."""
    if not settings.cors_origins:
        return app
    headers = REQUEST_HEADERS + (DEV_REQUEST_HEADERS if settings.auth == "dev" else ())
    cors = Cors(cast(ASGIApp, app), settings.cors_origins, allow_headers=headers)
    # The same ASGI dicts: Hypercorn types them as TypedDicts, Starlette as plain mappings.
    return cast(ASGIFramework, cors)


class Cors:
    """Starlette's ``CORSMiddleware`` for allowed origins; nothing CORS for the others.

    ``origins`` is a list of origins (credentials allowed) or ``("*",)`` (any origin, never
    with credentials: a page on any site must not act with the user's cookies).
    """

    def __init__(
        self, app: ASGIApp, origins: tuple[str, ...], *, allow_headers: tuple[str, ...]
    ) -> None:
        self._app = app
        self._cors = CORSMiddleware(
            app,
            allow_origins=origins,
            allow_methods=METHODS,
            allow_headers=allow_headers,
            allow_credentials="*" not in origins,
            expose_headers=EXPOSED_HEADERS,
            max_age=MAX_AGE,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            headers = Headers(scope=scope)
            origin = headers.get("origin")
            if origin is not None and not self._cors.is_allowed_origin(origin):
                if scope["method"] == "OPTIONS" and "access-control-request-method" in headers:
                    await _refused_preflight(origin)(scope, receive, send)
                else:
                    await self._app(scope, receive, _varying_by_origin(send))
                return
        await self._cors(scope, receive, send)


def _refused_preflight(origin: str) -> Response:
    answer = HttpError(403, "origin_not_allowed", f"{origin} may not call this server").answer()
    return Response(answer.body, answer.status, media_type=answer.content_type)


def _varying_by_origin(send: Send) -> Send:
    # The answer differs by Origin (an allowed one gets CORS headers), so a cache must not
    # hand this one to another origin: Starlette marks its own answers the same way.
    async def send_varying(message: Message) -> None:
        if message["type"] == "http.response.start":
            MutableHeaders(scope=message).add_vary_header("Origin")
        await send(message)

    return send_varying

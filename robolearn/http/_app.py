"""The server's ASGI app: one pipeline for every route, outermost first.

1. `RequestIds` (``_request_id``): the request id, the log context, ``X-Request-ID`` echoed.
2. CORS (``_cors``): preflights answered, ``Access-Control-*`` on every answer.
3. `BodyGuard` (``_bodies``): every request body keeps a pace; an unread one cannot hold up
   the answer.
4. `ChatkitFastPath` (``_fast_path``): ``POST /chatkit`` on plain ASGI (``_chatkit``);
   everything else to
5. the Quart-trio app (``_routes``).

Both 4 and 5 ask the same `Gate` (``_gate``: auth and limits) and render failures with
``_errors``.
"""

from __future__ import annotations

from functools import partial

from hypercorn.typing import ASGIFramework

from ._bodies import BodyGuard, BodyPace
from ._chatkit import handle_chatkit
from ._cors import with_cors
from ._fast_path import ChatkitFastPath
from ._gate import Gate
from ._request_id import RequestIds
from ._routes import quart_routes
from ._services import HttpServices
from ._watch import watch_services

__all__ = ["create_app"]


def create_app(services: HttpServices, gate: Gate | None = None) -> ASGIFramework:
    """The ASGI app serving ``services``; ``gate`` (auth, limits) defaults from Settings."""
    gate = gate or Gate.from_settings(
        services.settings,
        services.metrics,
        rates=services.rates,
        stream_locks=services.stream_locks,
    )
    watch_services(gate.metrics, services)
    app = ChatkitFastPath(quart_routes(services, gate), partial(handle_chatkit, services, gate))
    guarded = BodyGuard(app, BodyPace.from_settings(services.settings))
    return RequestIds(with_cors(guarded, services.settings))

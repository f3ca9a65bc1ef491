"""HTTP front end on Hypercorn: one ASGI pipeline for every route (see ``_app``).

Outermost first: the request id and log context (``_request_id``), CORS (``_cors``), the
body pace (``_bodies``), then ``POST /chatkit`` on plain ASGI (``_fast_path``, ``_chatkit``)
and every other route on Quart-trio (``_routes``). Auth and limits are one `Gate`
(``_gate``); failures become JSON in one place (``_errors``); what the routes use of the
running services is `HttpServices` (``_services``). Hypercorn's worker and listener, patched,
are ``robolearn._patches._hypercorn``.
"""

from robolearn._patches import serve_app

from ._app import create_app
from ._gate import Gate
from ._services import HttpServices

__all__ = ["Gate", "HttpServices", "create_app", "serve_app"]

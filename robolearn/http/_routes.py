"""The Quart-trio application: every route but ``/chatkit`` (the chat page, attachments,
health, metrics, admin).

Routes only: the request id, CORS and body pace are middleware around the app (``_app``),
who may ask is the `Gate`, and whatever a route raises is rendered by the one error handler.
"""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST
from quart import Response, jsonify
from quart_trio import QuartTrio

from robolearn.store import StoreUnavailable

from ._admin import register_admin
from ._attachments import download, preview, upload, upload_direct
from ._errors import error_response
from ._gate import Gate
from ._page import register_page
from ._services import HttpServices

__all__ = ["quart_routes"]

_log = logging.getLogger("robolearn.http")


def quart_routes(services: HttpServices, gate: Gate) -> QuartTrio:
    """The Quart app answering every route but ``/chatkit``."""
    app = QuartTrio("robolearn")
    # Every exception a route raises, and Quart's own refusals (404 route, 405 method, 413
    # body), as the same JSON as everything else.
    app.register_error_handler(Exception, error_response)
    # Each route enforces its own limit; this is only the outer bound.
    app.config["MAX_CONTENT_LENGTH"] = gate.max_any_body
    register_page(app)  # GET / and /static/*: the built-in chat page
    if services.settings.admin_token:
        # Test-only fault injection and leak checks; absent unless ROBOLEARN_ADMIN_TOKEN is set.
        register_admin(app, services, services.settings.admin_token)

    @app.post("/attachments")
    async def attachment_direct_upload() -> Response:
        return await upload_direct(services, gate)

    @app.route("/attachments/<attachment_id>/upload", methods=["PUT", "POST"])
    async def attachment_upload(attachment_id: str) -> Response:
        return await upload(services, gate, attachment_id)

    @app.get("/attachments/<attachment_id>")
    async def attachment_download(attachment_id: str) -> Response:
        return await download(services, gate, attachment_id)

    @app.get("/attachments/<attachment_id>/preview")
    async def attachment_preview(attachment_id: str) -> Response:
        return await preview(services, gate, attachment_id)

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(gate.metrics.render(), content_type=CONTENT_TYPE_LATEST)

    def answered_by(response: Response) -> Response:
        # Health is per process: with `serve --workers` the name tells which one answered.
        response.headers["X-Robolearn-Process"] = services.process
        return response

    @app.get("/healthz")
    async def healthz() -> Response:
        return answered_by(jsonify({"status": "ok"}))

    @app.get("/readyz")
    async def readyz() -> tuple[Response, int]:
        checks: dict[str, Any] = {}
        if services.postgres is not None and services.postgres.restarting:
            # It died and is being started again: say so, rather than the driver's words.
            checks["database"] = "restarting"
            checks["migrations"] = "unknown"
        else:
            try:
                # Also applies pending migrations: "ok" means the schema is current.
                await services.store.check()
                checks["database"] = "ok"
                checks["migrations"] = "ok"
            except StoreUnavailable as exc:
                # What is down, not the driver's words (they can name hosts and users).
                _log.warning("readiness: %s", exc)
                checks["database"] = "unavailable"
                checks["migrations"] = "unknown"
        accepting = services.actors.statistics().accepting
        checks["actors"] = "ok" if accepting else "shutting down"
        checks["index"] = "ok" if services.textbook.loaded else "not loaded"
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return answered_by(jsonify(body)), 200 if ready else 503

    return app

"""The application: ``/chatkit`` on plain ASGI (``_front``), the other routes on Quart-trio.

Routes only; every dependency comes in through Services.
"""

from __future__ import annotations

import logging
from functools import partial
from typing import Any

from hypercorn.typing import ASGIFramework
from prometheus_client import CONTENT_TYPE_LATEST
from quart import Response, g, jsonify, request
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from robolearn.obs import bind_log_context
from robolearn.services import Services
from robolearn.store import StoreUnavailable

from ._admin import register_admin
from ._attachments import download, max_upload_body, preview, upload, upload_direct
from ._bodies import BodyGuard, BodyPace
from ._chatkit import handle_chatkit
from ._cors import with_cors
from ._errors import from_exception
from ._exchange import request_id_for
from ._front import HttpFront
from ._frontdoor import FrontDoor
from ._page import register_page
from ._ratelimit import RateLimiter, TokenBucketLimiter
from ._sharedlimits import SharedRateLimiter
from ._watch import watch_services

__all__ = ["create_app"]

_log = logging.getLogger("robolearn.http")


def create_app(services: Services, door: FrontDoor | None = None) -> ASGIFramework:
    """The ASGI app serving ``services``; ``door`` (auth, limits, metrics) defaults from
    Settings."""
    door = door or FrontDoor.from_settings(
        services.settings,
        services.metrics,
        rates=services.rates,
        stream_locks=services.stream_locks,
    )
    watch_services(door.metrics, services)
    front = HttpFront(_quart_app(services, door), partial(handle_chatkit, services, door))
    # Every route's request body keeps a pace, and one a route did not read ends the connection.
    guarded = BodyGuard(front, BodyPace.from_settings(services.settings))
    # Outermost, so every answer (preflight, error, stream) of every route gets its headers.
    return with_cors(guarded, services.settings)


def _quart_app(services: Services, door: FrontDoor) -> QuartTrio:
    """Every route but ``/chatkit``: the page, attachments, health, metrics, admin."""
    app = QuartTrio("robolearn")
    register_page(app)  # GET / and /static/*: the built-in chat page
    if services.settings.admin_token:
        # Test-only fault injection and leak checks; absent unless ROBOLEARN_ADMIN_TOKEN is set.
        register_admin(app, services, services.settings.admin_token)
    # Each route enforces its own limit; this is only the outer bound.
    app.config["MAX_CONTENT_LENGTH"] = max(
        services.settings.max_body_bytes, max_upload_body(services.settings)
    )
    # Per attachment: see `preview`. Shared by every process when the user limits are.
    previews: RateLimiter = TokenBucketLimiter(services.settings.preview_rate_per_minute)
    if services.rates is not None:
        previews = SharedRateLimiter(
            services.rates, services.settings.preview_rate_per_minute, previews, "preview"
        )

    @app.before_request
    async def tag_request() -> None:
        request_id = request_id_for(request.headers.get("X-Request-ID"))
        g.request_id = request_id
        g.log_context = bind_log_context(request_id=request_id)
        g.log_context.__enter__()

    @app.after_request
    async def echo_request_id(response: Response) -> Response:
        response.headers["X-Request-ID"] = g.get("request_id", "")
        return response

    @app.teardown_request
    async def untag_request(exc: BaseException | None) -> None:
        context = g.pop("log_context", None)
        if context is not None:
            context.__exit__(None, None, None)

    @app.post("/attachments")
    async def attachment_direct_upload() -> Response:
        return await upload_direct(services, door)

    @app.route("/attachments/<attachment_id>/upload", methods=["PUT", "POST"])
    async def attachment_upload(attachment_id: str) -> Response:
        return await upload(services, door, attachment_id)

    @app.get("/attachments/<attachment_id>")
    async def attachment_download(attachment_id: str) -> Response:
        return await download(services, door, attachment_id)

    @app.get("/attachments/<attachment_id>/preview")
    async def attachment_preview(attachment_id: str) -> Response:
        return await preview(services, door, previews, attachment_id)

    @app.errorhandler(HTTPException)
    async def http_exception(exc: HTTPException) -> Response:
        # Quart's own refusals (404 route, 405 method, 413 body) as JSON like everything else.
        return from_exception(exc).response()

    @app.get("/metrics")
    async def metrics() -> Response:
        return Response(door.metrics.render(), content_type=CONTENT_TYPE_LATEST)

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

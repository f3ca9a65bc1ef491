"""The Quart-trio application: routes only; every dependency comes in through Services."""

from __future__ import annotations

from typing import Any

from quart import Response, jsonify
from quart_trio import QuartTrio
from werkzeug.exceptions import HTTPException

from robolearn.services import Services
from robolearn.store import StoreUnavailable

from ._attachments import download, upload, upload_direct
from ._chatkit import handle_chatkit
from ._errors import HttpError

__all__ = ["create_app"]


def create_app(services: Services) -> QuartTrio:
    app = QuartTrio("robolearn")
    # Streams are long-lived by design; the 60 s default would cut answers mid-way.
    app.config["RESPONSE_TIMEOUT"] = None

    # Each route enforces its own limit; this is only the outer bound.
    app.config["MAX_CONTENT_LENGTH"] = max(
        services.settings.max_body_bytes, services.settings.max_attachment_bytes
    )

    @app.post("/chatkit")
    async def chatkit() -> Response:
        return await handle_chatkit(services)

    @app.post("/attachments")
    async def attachment_direct_upload() -> Response:
        return await upload_direct(services)

    @app.route("/attachments/<attachment_id>/upload", methods=["PUT", "POST"])
    async def attachment_upload(attachment_id: str) -> Response:
        return await upload(services, attachment_id)

    @app.get("/attachments/<attachment_id>")
    async def attachment_download(attachment_id: str) -> Response:
        return await download(services, attachment_id)

    @app.errorhandler(HTTPException)
    async def http_exception(exc: HTTPException) -> Response:
        # Quart's own refusals (404 route, 405 method, 413 body) as JSON like everything else.
        code = (exc.name or "error").lower().replace(" ", "_")
        return HttpError(exc.code or 500, code, exc.description or exc.name).response()

    @app.get("/healthz")
    async def healthz() -> Response:
        return jsonify({"status": "ok"})

    @app.get("/readyz")
    async def readyz() -> tuple[Response, int]:
        checks: dict[str, Any] = {}
        try:
            await services.store.check()
            checks["database"] = "ok"
        except StoreUnavailable as exc:
            checks["database"] = f"unavailable: {exc}"
        ready = all(value == "ok" for value in checks.values())
        body = {"status": "ready" if ready else "not ready", "checks": checks}
        return jsonify(body), 200 if ready else 503

    return app

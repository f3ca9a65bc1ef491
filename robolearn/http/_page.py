"""The built-in chat page: ``GET /`` plus its one script and one stylesheet.

The official ChatKit widget loads from a CDN that many deployments cannot reach, so the server
ships its own small client (``robolearn/http/static``). The files are package data, read once
when the app is built, so a wheel serves them without touching the file system again.

Caching: the page itself is always revalidated (``no-cache`` + ETag), and it links the assets
with a content hash (``?v=...``), so an asset requested with the current hash can be cached
for a year: a new release changes the hash and therefore the URL.
"""

from __future__ import annotations

import hashlib
from importlib import resources

import attrs
from quart import Response, request
from quart_trio import QuartTrio

from ._errors import HttpError

__all__ = ["register_page"]

_VERSION_MARK = "{{version}}"
_IMMUTABLE = "public, max-age=31536000, immutable"
_REVALIDATE = "no-cache"

# The page talks only to its own origin and runs only its own script: even a rendering bug
# cannot load or send anything elsewhere. Images: own origin (attachment previews), plus
# blob: for previews of files not uploaded yet.
_CSP = "; ".join(
    [
        "default-src 'none'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' blob: data:",
        "connect-src 'self'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)


@attrs.frozen
class _Asset:
    body: bytes
    content_type: str
    etag: str

    @classmethod
    def of(cls, body: bytes, content_type: str) -> _Asset:
        return cls(body, content_type, hashlib.sha256(body).hexdigest()[:16])


@attrs.frozen
class _Page:
    html: _Asset
    assets: dict[str, _Asset]
    version: str

    @classmethod
    def load(cls) -> _Page:
        static = resources.files("robolearn.http").joinpath("static")
        assets = {
            "chat.js": _Asset.of(
                static.joinpath("chat.js").read_bytes(), "text/javascript; charset=utf-8"
            ),
            "chat.css": _Asset.of(
                static.joinpath("chat.css").read_bytes(), "text/css; charset=utf-8"
            ),
        }
        version = hashlib.sha256(b"".join(a.body for a in assets.values())).hexdigest()[:12]
        html = static.joinpath("index.html").read_text("utf-8").replace(_VERSION_MARK, version)
        return cls(_Asset.of(html.encode(), "text/html; charset=utf-8"), assets, version)


def register_page(app: QuartTrio) -> None:
    """Add ``GET /`` and ``GET /static/<name>`` (HEAD too) to ``app``."""
    page = _Page.load()

    @app.get("/")
    async def chat_page() -> Response:
        response = _send(page.html, _REVALIDATE)
        response.headers["Content-Security-Policy"] = _CSP
        response.headers["Referrer-Policy"] = "no-referrer"
        return response

    @app.get("/static/<name>")
    async def chat_asset(name: str) -> Response:
        asset = page.assets.get(name)
        if asset is None:
            raise HttpError(404, "not_found", f"no static file {name!r}")
        current = request.args.get("v") == page.version
        return _send(asset, _IMMUTABLE if current else _REVALIDATE)


def _send(asset: _Asset, cache_control: str) -> Response:
    if request.if_none_match.contains(asset.etag):
        response = Response(b"", status=304)
    else:
        response = Response(asset.body, content_type=asset.content_type)
    response.set_etag(asset.etag)
    response.headers["Cache-Control"] = cache_control
    response.headers["X-Content-Type-Options"] = "nosniff"
    return response

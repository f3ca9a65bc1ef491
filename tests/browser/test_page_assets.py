"""How the chat page and its two assets are served: types, caching, security headers.

Plain HTTP (no browser): these run everywhere, Chromium or not.
"""

from __future__ import annotations

import re
from importlib import resources

import httpx


async def test_page_is_html_revalidated_and_locked_to_its_origin(http: httpx.AsyncClient) -> None:
    response = await http.get("/")
    assert response.status_code == 200
    assert response.headers["content-type"] == "text/html; charset=utf-8"
    assert response.headers["cache-control"] == "no-cache"
    assert response.headers["x-content-type-options"] == "nosniff"
    csp = response.headers["content-security-policy"]
    assert "default-src 'none'" in csp
    assert "script-src 'self'" in csp
    assert "connect-src 'self'" in csp
    assert "{{version}}" not in response.text
    # Relative links: the page also works behind a proxy that mounts it under a prefix.
    assert re.search(r'src="static/chat\.js\?v=[0-9a-f]{12}"', response.text)
    assert re.search(r'href="static/chat\.css\?v=[0-9a-f]{12}"', response.text)


async def test_assets_have_types_and_versioned_urls_are_immutable(
    http: httpx.AsyncClient,
) -> None:
    page = (await http.get("/")).text
    version = re.search(r"chat\.js\?v=([0-9a-f]{12})", page)
    assert version is not None
    for name, content_type in (
        ("chat.js", "text/javascript; charset=utf-8"),
        ("chat.css", "text/css; charset=utf-8"),
    ):
        current = await http.get(f"/static/{name}", params={"v": version.group(1)})
        assert current.status_code == 200
        assert current.headers["content-type"] == content_type
        assert current.headers["cache-control"] == "public, max-age=31536000, immutable"
        # An unversioned or stale URL may not be cached blindly: its content can change.
        plain = await http.get(f"/static/{name}", params={"v": "old"})
        assert plain.headers["cache-control"] == "no-cache"
        assert plain.content == current.content


async def test_etag_revalidation_answers_304(http: httpx.AsyncClient) -> None:
    for path in ("/", "/static/chat.js", "/static/chat.css"):
        first = await http.get(path)
        etag = first.headers["etag"]
        again = await http.get(path, headers={"If-None-Match": etag})
        assert again.status_code == 304, path
        assert again.content == b""
        assert again.headers["etag"] == etag
        changed = await http.get(path, headers={"If-None-Match": '"something-else"'})
        assert changed.status_code == 200


async def test_head_and_unknown_assets(http: httpx.AsyncClient) -> None:
    head = await http.head("/static/chat.css")
    assert head.status_code == 200
    assert head.headers["content-type"] == "text/css; charset=utf-8"
    missing = await http.get("/static/other.js")
    assert missing.status_code == 404
    assert missing.json()["error"]["code"] == "not_found"
    assert (await http.get("/static/../_page.py")).status_code == 404


def test_files_are_package_data() -> None:
    # Read the way the server reads them, so an installed wheel serves the same files.
    static = resources.files("robolearn.http").joinpath("static")
    names = {entry.name for entry in static.iterdir()}
    assert {"index.html", "chat.js", "chat.css"} <= names

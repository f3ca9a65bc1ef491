"""One pipeline for every route: whichever answers (``/chatkit``'s fast path, a Quart route,
Quart's own refusals), the request id, its log lines, CORS and the error shape are the same.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from robolearn.config import Settings
from robolearn.obs import current_request_id
from robolearn.services import Services
from robolearn.store import StoreUnavailable

from .conftest import logging_to

BOOK = "https://book.example.org"

# (method, path, body, status): every kind of answerer in the app.
ROUTES = [
    pytest.param("POST", "/chatkit", {"type": "threads.list", "params": {}}, 200, id="chatkit"),
    pytest.param("GET", "/chatkit", None, 405, id="chatkit-405"),
    pytest.param("POST", "/chatkit", {"type": "threads.explode"}, 400, id="chatkit-400"),
    pytest.param("GET", "/healthz", None, 200, id="healthz"),
    pytest.param("GET", "/nowhere", None, 404, id="quart-404"),
    pytest.param("DELETE", "/healthz", None, 405, id="quart-405"),
    pytest.param("GET", "/attachments/att_missing", None, 404, id="attachment"),
    pytest.param("GET", "/static/missing.js", None, 404, id="page-404"),
]


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, auth="dev", cors_origins=(BOOK,))


class _RequestIds(logging.Handler):
    """Each log record with the request id bound where it was emitted."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.seen: list[tuple[str | None, str]] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.seen.append((current_request_id(), record.getMessage()))

    def messages_of(self, request_id: str) -> list[str]:
        return [message for bound, message in self.seen if bound == request_id]


@pytest.fixture
def logged() -> Iterator[_RequestIds]:
    handler = _RequestIds()
    with logging_to(handler, logging.getLogger("robolearn.http"), logging.DEBUG):
        yield handler


async def _ask(
    http: httpx.AsyncClient, method: str, path: str, body: Any, **headers: str
) -> httpx.Response:
    return await http.request(
        method,
        path,
        content=None if body is None else json.dumps(body).encode(),
        headers={"Origin": BOOK, "X-User-ID": "alice", **headers},
    )


def _assert_error_shape(response: httpx.Response) -> dict[str, str]:
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"code", "message"}
    return dict(error)


@pytest.mark.parametrize("given", ["req-pipeline-1", None], ids=["given-id", "no-id"])
@pytest.mark.parametrize(("method", "path", "body", "status"), ROUTES)
async def test_every_route_echoes_the_request_id_it_logs_under_with_cors(
    http: httpx.AsyncClient,
    logged: _RequestIds,
    method: str,
    path: str,
    body: Any,
    status: int,
    given: str | None,
) -> None:
    sent = {} if given is None else {"X-Request-ID": given}
    response = await _ask(http, method, path, body, **sent)
    assert response.status_code == status
    request_id = response.headers["X-Request-ID"]
    assert request_id == given if given is not None else len(request_id) == 32
    assert f"{method} {path}: {status}" in logged.messages_of(request_id)
    assert response.headers["Access-Control-Allow-Origin"] == BOOK
    assert "x-request-id" in response.headers["Access-Control-Expose-Headers"].lower()
    if status >= 400:
        _assert_error_shape(response)


async def test_a_refused_preflight_carries_the_request_id(http: httpx.AsyncClient) -> None:
    response = await http.options(
        "/chatkit",
        headers={
            "Origin": "https://elsewhere.example.net",
            "Access-Control-Request-Method": "POST",
            "X-Request-ID": "req-preflight",
        },
    )
    assert response.status_code == 403
    assert response.headers["X-Request-ID"] == "req-preflight"
    assert _assert_error_shape(response)["code"] == "origin_not_allowed"


async def test_a_quart_route_logs_under_the_request_id(
    http: httpx.AsyncClient,
    services: Services,
    logged: _RequestIds,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def down() -> None:
        raise StoreUnavailable("the database is down")

    monkeypatch.setattr(services.store, "check", down)
    response = await _ask(http, "GET", "/readyz", None, **{"X-Request-ID": "req-ready"})
    assert response.status_code == 503
    assert response.headers["X-Request-ID"] == "req-ready"
    assert any(m.startswith("readiness:") for m in logged.messages_of("req-ready"))


async def test_an_unexpected_exception_is_the_same_json_500_on_every_path(
    http: httpx.AsyncClient,
    services: Services,
    logged: _RequestIds,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    async def broken(*args: object) -> None:
        raise RuntimeError("secret detail of a bug")

    monkeypatch.setattr(services.store, "check", broken)  # /readyz, a Quart route
    monkeypatch.setattr(services.server, "answer", broken)  # threads.list, the fast path
    answers = {
        "quart": await _ask(http, "GET", "/readyz", None, **{"X-Request-ID": "req-500-quart"}),
        "chatkit": await _ask(
            http,
            "POST",
            "/chatkit",
            {"type": "threads.list", "params": {}},
            **{"X-Request-ID": "req-500-chatkit"},
        ),
    }
    for where, response in answers.items():
        assert response.status_code == 500
        assert response.headers["X-Request-ID"] == f"req-500-{where}"
        assert response.headers["Access-Control-Allow-Origin"] == BOOK
        assert "secret detail" not in response.text
        assert "Traceback" not in response.text
        assert "unexpected error" in logged.messages_of(f"req-500-{where}")
    assert answers["quart"].json() == answers["chatkit"].json()
    assert _assert_error_shape(answers["quart"])["code"] == "internal_error"

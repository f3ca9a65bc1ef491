"""CORS through the real HTTP stack: the widget calls the server from the textbook's site.

Browsers enforce CORS; the server's part is the headers. An allowed origin gets them on every
answer (preflights, errors, streams); another origin gets none, and its preflight is refused
before any route sees it.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import jwt
import pytest
import trio
from agents.items import TResponseInputItem

from robolearn.chat import TextStreamModel
from robolearn.chat._text_model import last_user_text
from robolearn.config import Settings

from .conftest import parse_sse, user_input

BOOK = "https://book.example.org"
ELSEWHERE = "https://elsewhere.example.net"
SECRET = "s" * 40


def bearer(user: str = "alice") -> dict[str, str]:
    now = int(time.time())
    token = jwt.encode({"sub": user, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


def preflight(method: str, *headers: str, origin: str = BOOK) -> dict[str, str]:
    asked = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        asked["Access-Control-Request-Headers"] = ",".join(headers)
    return asked


def cors_headers(response: httpx.Response) -> dict[str, str]:
    return {
        name: value
        for name, value in response.headers.items()
        if name.lower().startswith("access-control-")
    }


def listed(value: str) -> set[str]:
    return {part.strip().lower() for part in value.split(",")}


def threads_list() -> dict[str, object]:
    return {"type": "threads.list", "params": {}}


class GatedModel(TextStreamModel):
    """Answers ``answer to: <text>``, then the rest only once the test calls :meth:`go_on`."""

    def __init__(self) -> None:
        self._go_on = asyncio.Event()

    def go_on(self) -> None:
        self._go_on.set()

    async def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        yield f"answer to: {last_user_text(input)}"
        await self._go_on.wait()
        yield " and the rest"


class TestOriginList:
    """``ROBOLEARN_CORS_ORIGINS=https://book.example.org`` with bearer tokens."""

    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path) -> Settings:
        return Settings(
            database_url=database_url,
            data_dir=tmp_path,
            auth="jwt",
            jwt_secret=SECRET,
            cors_origins=(BOOK,),
            rate_limit_per_minute=3,
            stream_flush_ms=0,
        )

    @pytest.fixture
    def model(self) -> GatedModel:
        return GatedModel()

    @pytest.mark.parametrize(
        ("method", "path"),
        [
            ("POST", "/chatkit"),
            ("POST", "/attachments"),
            ("PUT", "/attachments/atc_1/upload"),
            ("POST", "/attachments/atc_1/upload"),
            ("GET", "/attachments/atc_1"),
        ],
    )
    async def test_preflight_is_answered_for_the_book(
        self, http: httpx.AsyncClient, method: str, path: str
    ) -> None:
        asked = preflight(method, "authorization", "content-type", "x-request-id")
        response = await http.options(path, headers=asked)
        assert response.status_code == 200, response.text
        assert response.headers["Access-Control-Allow-Origin"] == BOOK
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        assert listed(response.headers["Access-Control-Allow-Methods"]) == {
            "get",
            "post",
            "put",
            "delete",
            "options",
        }
        allowed = listed(response.headers["Access-Control-Allow-Headers"])
        assert {"authorization", "content-type", "x-request-id"} <= allowed
        assert "x-user-id" not in allowed  # trusted only with ROBOLEARN_AUTH=dev
        assert response.headers["Access-Control-Max-Age"] == "600"
        assert "origin" in listed(response.headers["Vary"])

    async def test_preflight_for_the_dev_user_header_fails(self, http: httpx.AsyncClient) -> None:
        response = await http.options("/chatkit", headers=preflight("POST", "x-user-id"))
        assert response.status_code == 400  # a browser takes only a 2xx preflight

    async def test_preflight_from_elsewhere_is_refused_before_the_routes(
        self, http: httpx.AsyncClient
    ) -> None:
        for path in ("/chatkit", "/attachments/atc_1/upload", "/no/such/route"):
            asked = preflight("POST", "authorization", origin=ELSEWHERE)
            response = await http.options(path, headers=asked)
            # Not the routes' 405 or 404: the middleware answered.
            assert response.status_code == 403
            assert response.json()["error"]["code"] == "origin_not_allowed"
            assert cors_headers(response) == {}

    async def test_answers_to_the_book_carry_cors_headers(self, http: httpx.AsyncClient) -> None:
        headers = {"Origin": BOOK, "X-Request-ID": "req-cors-1", **bearer()}
        response = await http.post("/chatkit", json=threads_list(), headers=headers)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == BOOK
        assert response.headers["Access-Control-Allow-Credentials"] == "true"
        exposed = listed(response.headers["Access-Control-Expose-Headers"])
        assert exposed == {"retry-after", "x-request-id"}
        assert response.headers["X-Request-ID"] == "req-cors-1"
        assert "origin" in listed(response.headers["Vary"])

        page = await http.get("/healthz", headers={"Origin": BOOK})  # a Quart route
        assert page.headers["Access-Control-Allow-Origin"] == BOOK

    async def test_error_answers_carry_cors_headers(self, http: httpx.AsyncClient) -> None:
        origin = {"Origin": BOOK}
        unauthenticated = await http.post("/chatkit", json=threads_list(), headers=origin)
        missing = await http.get("/attachments/atc_missing", headers={**origin, **bearer()})
        no_route = await http.get("/no/such/route", headers=origin)
        refused = [
            await http.post("/chatkit", json=threads_list(), headers={**origin, **bearer("carol")})
            for _ in range(4)
        ][-1]
        assert [unauthenticated.status_code, missing.status_code, no_route.status_code] == [
            401,
            404,
            404,
        ]
        assert refused.status_code == 429
        assert "Retry-After" in refused.headers
        for response in (unauthenticated, missing, no_route, refused):
            assert response.headers["Access-Control-Allow-Origin"] == BOOK, response.text
            assert "retry-after" in listed(response.headers["Access-Control-Expose-Headers"])

    async def test_a_stream_carries_cors_headers_and_arrives_event_by_event(
        self, http: httpx.AsyncClient, model: GatedModel
    ) -> None:
        body = {"type": "threads.create", "params": {"input": user_input("hello")}}
        received = b""
        with trio.fail_after(10):
            headers = {"Origin": BOOK, **bearer()}
            async with http.stream("POST", "/chatkit", json=body, headers=headers) as response:
                assert response.headers["content-type"].startswith("text/event-stream")
                assert response.headers["Access-Control-Allow-Origin"] == BOOK
                chunks = response.aiter_bytes()
                # The model holds the rest of its answer until the first part has reached
                # this client: a middleware that buffered the body would stall here.
                while b"answer to: hello" not in received:
                    received += await anext(chunks)
                assert b"and the rest" not in received
                model.go_on()
                async for chunk in chunks:
                    received += chunk
        events = parse_sse(received)
        assert events[0]["type"] == "thread.created"
        assert events[-1]["type"] == "thread.item.done"
        assert events[-1]["item"]["content"][0]["text"] == "answer to: hello and the rest"

    async def test_another_origin_is_served_without_cors_headers(
        self, http: httpx.AsyncClient
    ) -> None:
        # The browser refuses the page this answer; a script outside a browser is no
        # different from a client without an Origin, so the server answers as usual.
        response = await http.post(
            "/chatkit", json=threads_list(), headers={"Origin": ELSEWHERE, **bearer()}
        )
        assert response.status_code == 200
        assert cors_headers(response) == {}
        assert "origin" in listed(response.headers["Vary"])

    async def test_same_origin_answers_carry_no_cors_headers(self, http: httpx.AsyncClient) -> None:
        response = await http.post("/chatkit", json=threads_list(), headers=bearer())
        assert response.status_code == 200
        assert cors_headers(response) == {}


class TestAnyOrigin:
    """``ROBOLEARN_CORS_ORIGINS=*`` with development auth."""

    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path) -> Settings:
        return Settings(
            database_url=database_url, data_dir=tmp_path, auth="dev", cors_origins=("*",)
        )

    async def test_any_origin_is_allowed_without_credentials(self, http: httpx.AsyncClient) -> None:
        asked = preflight("POST", "content-type", "x-user-id", origin=ELSEWHERE)
        allowed = await http.options("/chatkit", headers=asked)
        assert allowed.status_code == 200
        assert allowed.headers["Access-Control-Allow-Origin"] == "*"
        assert "x-user-id" in listed(allowed.headers["Access-Control-Allow-Headers"])
        assert "Access-Control-Allow-Credentials" not in allowed.headers

        headers = {"Origin": ELSEWHERE, "X-User-ID": "alice"}
        response = await http.post("/chatkit", json=threads_list(), headers=headers)
        assert response.status_code == 200
        assert response.headers["Access-Control-Allow-Origin"] == "*"
        assert "Access-Control-Allow-Credentials" not in response.headers
        assert "x-request-id" in listed(response.headers["Access-Control-Expose-Headers"])


class TestDatabaseDown:
    @pytest.fixture
    def settings(self, tmp_path: Path) -> Settings:
        return Settings(
            database_url="postgresql://nobody@/none?host=/nonexistent",
            data_dir=tmp_path,
            db_timeout=0.3,
            auth="dev",
            cors_origins=(BOOK,),
        )

    async def test_a_503_carries_cors_headers(self, http: httpx.AsyncClient) -> None:
        headers = {"Origin": BOOK, "X-User-ID": "alice"}
        response = await http.post("/chatkit", json=threads_list(), headers=headers)
        assert response.status_code == 503
        assert "Retry-After" in response.headers
        assert response.headers["Access-Control-Allow-Origin"] == BOOK


async def test_without_the_setting_there_is_no_cors(http: httpx.AsyncClient) -> None:
    response = await http.options("/chatkit", headers=preflight("POST", "content-type"))
    assert response.status_code == 405
    assert cors_headers(response) == {}
    answer = await http.post(
        "/chatkit", json=threads_list(), headers={"Origin": BOOK, "X-User-ID": "alice"}
    )
    assert answer.status_code == 200
    assert cors_headers(answer) == {}

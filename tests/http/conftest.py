"""HTTP fixtures: the real app on a real Hypercorn bound to a loopback port, and httpx."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from robolearn import _aio
from robolearn.chat import ScriptedTokensModel
from robolearn.config import Settings
from robolearn.http import create_app, serve_app
from robolearn.serve import hypercorn_config
from robolearn.services import Services, open_services


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(database_url=database_url, data_dir=tmp_path, auth="dev")


@pytest.fixture
def model() -> ScriptedTokensModel:
    return ScriptedTokensModel(tokens=8, delay=0)


@pytest.fixture
async def services(settings: Settings, model: ScriptedTokensModel) -> AsyncIterator[Services]:
    async with open_services(settings, model=model) as opened:
        yield opened


@pytest.fixture
async def http(services: Services) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(services)
    config = hypercorn_config("127.0.0.1:0")
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(
            partial(serve_app, app, config, shutdown_trigger=trio.sleep_forever)
        )
        async with httpx.AsyncClient(base_url=urls[0], timeout=30) as client:
            yield client
        nursery.cancel_scope.cancel()


class ChatKit:
    """A tiny ChatKit client for tests: one user, requests as dicts, SSE decoded."""

    def __init__(self, http: httpx.AsyncClient, user: str = "alice") -> None:
        self.http = http
        self.headers = {"X-User-ID": user}

    async def call(self, type_: str, **params: Any) -> httpx.Response:
        return await self.http.post(
            "/chatkit", json={"type": type_, "params": params}, headers=self.headers
        )

    async def stream(
        self, type_: str, metadata: dict[str, Any] | None = None, **params: Any
    ) -> list[dict[str, Any]]:
        body: dict[str, Any] = {"type": type_, "params": params}
        if metadata is not None:
            body["metadata"] = metadata
        response = await self.http.post("/chatkit", json=body, headers=self.headers)
        assert response.status_code == 200, response.text
        assert response.headers["content-type"].startswith("text/event-stream")
        return parse_sse(response.content)


def parse_sse(raw: bytes) -> list[dict[str, Any]]:
    events = []
    for block in raw.decode().split("\n\n"):
        if block.startswith("data: "):
            events.append(json.loads(block[len("data: ") :]))
    return events


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


@pytest.fixture
def alice(http: httpx.AsyncClient) -> ChatKit:
    return ChatKit(http, "alice")


@pytest.fixture
def bob(http: httpx.AsyncClient) -> ChatKit:
    return ChatKit(http, "bob")


async def post_and_hang_up(client: ChatKit, body: dict[str, object], until: bytes) -> bytes:
    """POST over a raw socket, read until ``until`` shows up, then drop the connection."""
    url = client.http.base_url
    payload = json.dumps(body).encode()
    head = (
        f"POST /chatkit HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"X-User-ID: {client.headers['X-User-ID']}\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    stream = await trio.open_tcp_stream(url.host, url.port or 80)
    seen = b""
    async with stream:
        await stream.send_all(head + payload)
        while until not in seen:
            chunk = await stream.receive_some()
            assert chunk, "server closed the stream first"
            seen += chunk
    return seen


async def wait_until(predicate: Callable[[], bool | Awaitable[bool]], seconds: float = 5) -> None:
    """Poll ``predicate`` until it holds: for state seen only from outside (HTTP, statistics)."""
    with trio.fail_after(seconds):
        while True:
            result = predicate()
            if result if isinstance(result, bool) else await result:
                return
            await trio.sleep(0.01)


def quiescent(services: Services) -> bool:
    """No turn running and no asyncio task alive: nothing leaked by a finished turn."""
    return not services.actors.statistics().busy_actors and not _aio.pending_asyncio_tasks()


@contextmanager
def logging_to(handler: logging.Handler, logger: logging.Logger, level: int) -> Iterator[None]:
    """``logger`` also writes to ``handler``, at ``level``, inside the block."""
    old_level = logger.level
    logger.addHandler(handler)
    logger.setLevel(level)
    try:
        yield
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old_level)

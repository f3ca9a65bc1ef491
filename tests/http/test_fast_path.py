"""The fast path: /chatkit answered on plain ASGI, its stream closed when the client leaves."""

from __future__ import annotations

import json
from collections.abc import AsyncGenerator
from typing import Any

import pytest
import trio
import trio.testing
from quart_trio import QuartTrio

from robolearn.http._exchange import Answer, ClientGone, Incoming
from robolearn.http._fast_path import ChatkitFastPath
from robolearn.http._request_id import RequestIds


def _scope(method: str = "POST", path: str = "/chatkit", **headers: str) -> dict[str, Any]:
    return {
        "type": "http",
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "query_string": b"",
        "root_path": "",
        "headers": [
            (name.replace("_", "-").encode(), value.encode()) for name, value in headers.items()
        ],
        "client": ("127.0.0.1", 50000),
        "server": ("127.0.0.1", 8000),
        "extensions": {},
    }


class Client:
    """The server's side of one connection: what the app receives, and what it sent."""

    def __init__(self, *bodies: bytes) -> None:
        self._inbox, self._incoming = trio.open_memory_channel[dict[str, Any]](100)
        for n, body in enumerate(bodies):
            self._inbox.send_nowait(
                {"type": "http.request", "body": body, "more_body": n < len(bodies) - 1}
            )
        self.sent: list[dict[str, Any]] = []

    async def receive(self) -> dict[str, Any]:
        return await self._incoming.receive()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)

    def leave(self) -> None:
        self._inbox.send_nowait({"type": "http.disconnect"})

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])

    @property
    def headers(self) -> dict[str, str]:
        return {name.decode(): value.decode() for name, value in self.sent[0]["headers"]}

    @property
    def body(self) -> bytes:
        return b"".join(message.get("body", b"") for message in self.sent[1:])


async def test_a_json_answer_carries_its_length_and_the_request_id() -> None:
    async def chatkit(incoming: Incoming) -> Answer:
        assert await incoming.read_body(100) == b'{"a": 1}'
        return Answer(200, "application/json", b'{"ok": true}')

    client = Client(b'{"a"', b": 1}")
    scope = _scope(x_request_id="req-1")
    app = RequestIds(ChatkitFastPath(QuartTrio("unused"), chatkit))
    await app(scope, client.receive, client.send)
    assert client.status == 200
    assert client.headers["content-length"] == "12"
    assert client.headers["x-request-id"] == "req-1"
    assert client.body == b'{"ok": true}'


async def test_a_stream_is_closed_when_the_client_leaves_mid_way() -> None:
    sent_chunks: list[int] = []
    closed = trio.Event()

    async def events() -> AsyncGenerator[bytes, None]:
        try:
            for n in range(1000):
                sent_chunks.append(n)
                yield f"data: {n}\n\n".encode()
                await trio.sleep(1)
        finally:
            closed.set()

    async def chatkit(incoming: Incoming) -> Answer:
        await incoming.read_body(100)
        return Answer(200, "text/event-stream", stream=events())

    client = Client(b"{}")
    front = ChatkitFastPath(QuartTrio("unused"), chatkit)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(front, _scope(), client.receive, client.send)
        await trio.testing.wait_all_tasks_blocked()
        client.leave()
        with trio.fail_after(5):
            await closed.wait()
    assert sent_chunks == [0]
    assert client.body == b"data: 0\n\n"  # and no end of body: the client was gone


async def test_a_stream_is_released_even_if_the_client_left_before_its_first_chunk() -> None:
    released = []

    async def events() -> AsyncGenerator[bytes, None]:
        yield b"never asked for"

    async def release() -> None:
        released.append(True)

    async def chatkit(incoming: Incoming) -> Answer:
        await incoming.read_body(100)
        client.leave()  # gone while the answer was being prepared
        await trio.testing.wait_all_tasks_blocked()
        return Answer(200, "text/event-stream", stream=events(), release=release)

    client = Client(b"{}")
    with trio.fail_after(5):
        await ChatkitFastPath(QuartTrio("unused"), chatkit)(_scope(), client.receive, client.send)
    assert released == [True]


async def test_a_stream_ends_with_an_empty_last_chunk() -> None:
    async def events() -> AsyncGenerator[bytes, None]:
        yield b"data: 1\n\n"
        yield b"data: 2\n\n"

    async def chatkit(incoming: Incoming) -> Answer:
        await incoming.read_body(100)
        return Answer(
            200, "text/event-stream", stream=events(), headers={"Cache-Control": "no-cache"}
        )

    client = Client(b"{}")
    await ChatkitFastPath(QuartTrio("unused"), chatkit)(_scope(), client.receive, client.send)
    assert client.headers["cache-control"] == "no-cache"
    assert client.body == b"data: 1\n\ndata: 2\n\n"
    assert client.sent[-1] == {"type": "http.response.body", "body": b"", "more_body": False}


async def test_a_client_gone_before_its_body_gets_no_answer() -> None:
    async def chatkit(incoming: Incoming) -> Answer:
        await incoming.read_body(100)
        pytest.fail("the body never came")

    client = Client()
    client.leave()
    await ChatkitFastPath(QuartTrio("unused"), chatkit)(_scope(), client.receive, client.send)
    assert client.sent == []


async def test_only_post_is_allowed() -> None:
    async def chatkit(incoming: Incoming) -> Answer:
        pytest.fail("not for a GET")

    client = Client(b"")
    await ChatkitFastPath(QuartTrio("unused"), chatkit)(_scope("GET"), client.receive, client.send)
    assert client.status == 405
    assert client.headers["allow"] == "POST"
    assert json.loads(client.body)["error"]["code"] == "method_not_allowed"


async def test_other_paths_go_to_the_app() -> None:
    app = QuartTrio("other")

    @app.get("/hello")
    async def hello() -> str:
        return "hi"

    async def chatkit(incoming: Incoming) -> Answer:
        pytest.fail("not /chatkit")

    client = Client(b"")
    await ChatkitFastPath(app, chatkit)(_scope("GET", "/hello"), client.receive, client.send)
    assert client.status == 200
    assert client.body == b"hi"


async def test_a_body_over_the_limit_is_not_read_to_its_end() -> None:
    client = Client(b"x" * 60, b"x" * 60, b"never read")
    incoming = Incoming(_scope(), client.receive)
    assert await incoming.read_body(100) is None
    assert (await client.receive())["body"] == b"never read"


async def test_a_disconnect_while_reading_the_body_is_client_gone() -> None:
    client = Client()
    client.leave()
    with pytest.raises(ClientGone):
        await Incoming(_scope(), client.receive).read_body(100)


def test_headers_are_case_insensitive_and_the_first_one_wins() -> None:
    scope = _scope()
    scope["headers"] = [(b"X-User-ID", b"alice"), (b"x-user-id", b"mallory")]
    headers = Incoming(scope, Client().receive).headers
    assert headers.get("X-USER-ID") == "alice"
    assert headers.get("authorization") == ""

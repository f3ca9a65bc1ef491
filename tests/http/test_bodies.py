"""BodyGuard on its own, on trio's mock clock: the exact pace a body must keep."""

from __future__ import annotations

import json
from typing import Any

import trio
import trio.testing

from robolearn.http._bodies import BodyGuard, BodyPace
from robolearn.http._request_id import RequestIds

PACE = BodyPace(grace=10, min_rate=100)  # 10 s, then 100 bytes a second


def _scope() -> dict[str, Any]:
    return {"type": "http", "method": "POST", "path": "/", "headers": [(b"x-request-id", b"r1")]}


class Client:
    """The server's side of one request: body chunks to hand out, and what was answered."""

    def __init__(self) -> None:
        self._inbox, self._incoming = trio.open_memory_channel[dict[str, Any]](100)
        self.sent: list[dict[str, Any]] = []
        self.answered_at: float | None = None

    def send_body(self, body: bytes, *, more: bool = True) -> None:
        self._inbox.send_nowait({"type": "http.request", "body": body, "more_body": more})

    async def receive(self) -> dict[str, Any]:
        return await self._incoming.receive()

    async def send(self, message: dict[str, Any]) -> None:
        self.sent.append(message)
        if message["type"] == "http.response.start":
            self.answered_at = trio.current_time()

    @property
    def status(self) -> int:
        return int(self.sent[0]["status"])


async def _read_body_after(work: float, receive: Any, send: Any) -> None:
    """A route that works ``work`` seconds, then reads the body and answers 200."""
    await trio.sleep(work)
    while (await receive()).get("more_body"):
        pass
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _run(client: Client, work: float = 0) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await _read_body_after(work, receive, send)

    # The request id is the pipeline's, outside the guard: the guard's own 408 carries it too.
    guarded = RequestIds(BodyGuard(app, PACE))  # type: ignore[arg-type]
    await guarded(_scope(), client.receive, client.send)  # type: ignore[arg-type]


async def test_a_body_that_never_comes_is_cut_after_the_grace(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = Client()
    await _run(client)
    assert client.answered_at == PACE.grace
    assert client.status == 408
    error = json.loads(client.sent[1]["body"])["error"]
    assert error["code"] == "request_timeout"
    headers = dict(client.sent[0]["headers"])
    assert headers[b"x-request-id"] == b"r1"
    assert headers[b"connection"] == b"close"


async def test_bytes_that_arrived_buy_time(autojump_clock: trio.testing.MockClock) -> None:
    client = Client()
    client.send_body(b"x" * 500)  # 5 s more
    await _run(client)
    assert client.answered_at == PACE.grace + 5
    assert client.status == 408


async def test_time_the_route_spends_before_it_reads_does_not_count(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = Client()
    await _run(client, work=60)
    assert client.answered_at == 60 + PACE.grace
    assert client.status == 408


async def test_a_body_at_the_pace_is_read_to_the_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    client = Client()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_run, client)
        # 100 bytes a second for 30 s, three times the grace.
        for _ in range(30):
            await trio.sleep(1)
            client.send_body(b"x" * 100)
        client.send_body(b"", more=False)
    assert client.status == 200
    assert client.answered_at == 30

"""Hypercorn's patched worker: deadlines on every route, closed connections let go."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from functools import partial
from typing import Any

import hypercorn.trio.run
import pytest
import trio
import trio.testing
from hypercorn.events import Closed, RawData

from robolearn._patches import Patches
from robolearn._patches._hypercorn import _TCPServer
from robolearn.http import serve_app
from robolearn.serve import hypercorn_config
from tests._tasks import live_tasks


async def _answer_ok(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while (await receive())["type"] != "lifespan.shutdown":
            await send({"type": "lifespan.startup.complete"})
        await send({"type": "lifespan.shutdown.complete"})
        return
    await receive()
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"ok", "more_body": False})


async def test_a_connection_the_client_closed_is_let_go_at_once() -> None:
    config = hypercorn_config("127.0.0.1:0")
    config.accesslog = None
    config.keep_alive_timeout = 300  # what a closed connection must not wait for
    async with trio.open_nursery() as nursery:
        urls = await nursery.start(
            partial(serve_app, _answer_ok, config, shutdown_trigger=trio.sleep_forever)
        )
        await trio.testing.wait_all_tasks_blocked()
        idle = live_tasks()
        host, port = urls[0].removeprefix("http://").rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200" in await stream.receive_some()
        await trio.testing.wait_all_tasks_blocked()
        assert live_tasks() > idle  # the connection, kept alive and waiting
        await stream.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert live_tasks() == idle
        nursery.cancel_scope.cancel()


class _Protocol:
    """Stands in for hypercorn's protocol: records what the connection told it."""

    def __init__(self) -> None:
        self.events: list[object] = []

    async def handle(self, event: object) -> None:
        self.events.append(event)


@pytest.fixture
def connection() -> Iterator[tuple[_TCPServer, socket.socket, _Protocol]]:
    ours, peer = socket.socketpair()
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
    server = _TCPServer(None, hypercorn_config("127.0.0.1:0"), None, {}, stream)  # type: ignore[arg-type]
    protocol = _Protocol()
    server.protocol = protocol  # type: ignore[assignment]
    yield server, peer, protocol
    ours.close()
    peer.close()


async def test_a_write_to_a_gone_client_closes_the_connection(
    connection: tuple[_TCPServer, socket.socket, _Protocol],
) -> None:
    server, peer, protocol = connection
    peer.close()
    await server.protocol_send(RawData(b"nobody reads this"))
    assert protocol.events == [Closed()]


async def test_shutting_down_closes_connections_waiting_for_a_request_at_once() -> None:
    config = hypercorn_config("127.0.0.1:0")
    config.accesslog = None
    config.keep_alive_timeout = config.graceful_timeout = 300  # neither may be waited out
    shutdown = trio.Event()
    with trio.fail_after(5):
        async with trio.open_nursery() as nursery:
            serve = partial(serve_app, _answer_ok, config, shutdown_trigger=shutdown.wait)
            host, port = (await nursery.start(serve))[0].removeprefix("http://").rsplit(":", 1)
            fresh = await trio.open_tcp_stream(host, int(port))  # no request yet
            kept = await trio.open_tcp_stream(host, int(port))  # kept alive after one
            await kept.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            answer = b""
            while not answer.endswith(b"0\r\n\r\n"):  # the whole chunked answer
                answer += await kept.receive_some()
            assert b"200" in answer
            await trio.testing.wait_all_tasks_blocked()
            shutdown.set()
            async with fresh, kept:
                assert await fresh.receive_some() == b""
                assert await kept.receive_some() == b""
        # and serve_app returned: nothing was left waiting


async def test_without_the_worker_patch_hypercorns_own_worker_serves(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stock_worker = hypercorn.trio.run.worker_serve
    served: list[object] = []

    async def worker_serve(app: object, *args: Any, **kwargs: Any) -> None:
        served.append(app)
        await stock_worker(app, *args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(hypercorn.trio.run, "worker_serve", worker_serve)
    config = hypercorn_config("127.0.0.1:0")
    config.accesslog = None
    stock = Patches(frozenset())
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            shutdown = trio.Event()
            serve = partial(
                serve_app, _answer_ok, config, shutdown_trigger=shutdown.wait, patches=stock
            )
            host, port = (await nursery.start(serve))[0].removeprefix("http://").rsplit(":", 1)
            async with await trio.open_tcp_stream(host, int(port)) as client:
                await client.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
                assert b"200" in await client.receive_some()
            shutdown.set()
    assert len(served) == 1

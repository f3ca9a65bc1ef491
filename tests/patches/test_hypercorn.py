"""Hypercorn's patched worker: every waiting connection accepted in one scheduler round,
closed ones let go, writes that skip the scheduler when they can."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator
from functools import partial
from typing import Any

import hypercorn.trio.run
import pytest
import trio
import trio.testing
from hypercorn.events import Closed, RawData

from robolearn._patches import Patches
from robolearn._patches._hypercorn import _listeners, _TCPServer
from robolearn.http import BurstListener, serve_app
from robolearn.serve import hypercorn_config

WAITING = 50


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    sock = socket.create_server(("127.0.0.1", 0), backlog=WAITING * 2)
    yield sock
    sock.close()


@pytest.fixture
def clients(listening: socket.socket) -> Iterator[list[socket.socket]]:
    # Connected before anyone accepts: the kernel completes the handshakes into the backlog.
    opened = [socket.create_connection(listening.getsockname()) for _ in range(WAITING)]
    yield opened
    for client in opened:
        client.close()


def burst(sock: socket.socket) -> trio.abc.Listener[trio.SocketStream]:
    return BurstListener(sock)


def stock(sock: socket.socket) -> trio.abc.Listener[trio.SocketStream]:
    return trio.SocketListener(trio.socket.from_stdlib_socket(sock))


@pytest.mark.parametrize(
    "make",
    # trio's own listener, for contrast: a round of the scheduler per connection.
    [burst, pytest.param(stock, marks=pytest.mark.xfail(strict=True))],
    ids=["burst", "trio-stock"],
)
async def test_waiting_connections_are_accepted_without_waiting_for_other_tasks(
    listening: socket.socket,
    clients: list[socket.socket],
    make: Callable[[socket.socket], trio.abc.Listener[trio.SocketStream]],
) -> None:
    listener = make(listening)
    rounds = 0

    async def busy() -> None:
        # Stands for every other task of a busy server: one step per scheduler round.
        nonlocal rounds
        while True:
            rounds += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(busy)
        await trio.lowlevel.checkpoint()
        start = rounds
        streams = [await listener.accept() for _ in range(WAITING)]
        taken = rounds - start
        nursery.cancel_scope.cancel()
    assert len({stream.socket.fileno() for stream in streams}) == WAITING
    for stream in streams:
        await stream.aclose()
    await listener.aclose()
    # A few rounds for the socket to be reported readable, however many connections wait.
    assert taken <= WAITING // 10


async def test_accepted_streams_carry_data(listening: socket.socket) -> None:
    listener = BurstListener(listening)
    client = socket.create_connection(listening.getsockname())
    try:
        stream = await listener.accept()
        client.sendall(b"ping")
        assert await stream.receive_some(4) == b"ping"
        await stream.send_all(b"pong")
        assert client.recv(4) == b"pong"
        await stream.aclose()
    finally:
        client.close()
    await listener.aclose()


async def test_close_wakes_a_waiting_accept_and_drops_unclaimed_connections(
    listening: socket.socket, clients: list[socket.socket]
) -> None:
    listener = BurstListener(listening)
    first = await listener.accept()  # the rest now wait, accepted, in the listener
    await listener.aclose()
    with pytest.raises(trio.ClosedResourceError):
        await listener.accept()
    for client in clients[1:]:
        client.settimeout(5)
        assert client.recv(1) == b""  # closed by the listener, not left hanging
    await first.aclose()


async def test_close_wakes_an_accept_that_is_waiting(listening: socket.socket) -> None:
    listener = BurstListener(listening)
    async with trio.open_nursery() as nursery:

        async def accept() -> None:
            with pytest.raises(trio.ClosedResourceError):
                await listener.accept()

        nursery.start_soon(accept)
        await trio.testing.wait_all_tasks_blocked()
        await listener.aclose()


async def test_accept_is_a_cancellation_point_even_with_connections_waiting(
    listening: socket.socket, clients: list[socket.socket]
) -> None:
    listener = BurstListener(listening)
    await (await listener.accept()).aclose()
    with trio.CancelScope() as scope:
        scope.cancel()
        await listener.accept()
        pytest.fail("accept did not notice the cancellation")
    await listener.aclose()


def _live_tasks() -> int:
    count, pending = 0, [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is not None:
            count += 1
            pending.extend(child for n in task.child_nurseries for child in n.child_tasks)
    return count


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
        idle = _live_tasks()
        host, port = urls[0].removeprefix("http://").rsplit(":", 1)
        stream = await trio.open_tcp_stream(host, int(port))
        await stream.send_all(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        assert b"200" in await stream.receive_some()
        await trio.testing.wait_all_tasks_blocked()
        assert _live_tasks() > idle  # the connection, kept alive and waiting
        await stream.aclose()
        await trio.testing.wait_all_tasks_blocked()
        assert _live_tasks() == idle
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


def _received(peer: socket.socket, size: int) -> bytes:
    peer.settimeout(5)
    data = b""
    while len(data) < size:
        data += peer.recv(size - len(data))
    return data


async def test_a_write_the_socket_has_room_for_does_not_wait_for_the_scheduler(
    connection: tuple[_TCPServer, socket.socket, _Protocol],
) -> None:
    server, peer, _ = connection
    # Cancelled already: any trip through the scheduler would raise here.
    with trio.CancelScope() as scope:
        scope.cancel()
        await server.protocol_send(RawData(b"event: 1\n\n"))
        await server.protocol_send(RawData(b"event: 2\n\n"))
    assert _received(peer, 20) == b"event: 1\n\nevent: 2\n\n"


async def test_what_the_socket_cannot_take_at_once_follows_in_order(
    connection: tuple[_TCPServer, socket.socket, _Protocol],
) -> None:
    server, peer, _ = connection
    big = bytes(range(256)) * 8192  # 2 MiB: more than a socket buffer
    received: list[bytes] = []

    async def read_all() -> None:
        received.append(await trio.to_thread.run_sync(_received, peer, len(big) + 5))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(read_all)
        await server.protocol_send(RawData(big))
        await server.protocol_send(RawData(b"after"))
    assert received == [big + b"after"]


async def test_a_write_waits_behind_one_under_way(
    connection: tuple[_TCPServer, socket.socket, _Protocol],
) -> None:
    server, peer, _ = connection
    peer.setblocking(False)
    async with trio.open_nursery() as nursery:
        await server.send_lock.acquire()  # an earlier write, waiting for room
        nursery.start_soon(server.protocol_send, RawData(b"later"))
        await trio.testing.wait_all_tasks_blocked()
        with pytest.raises(BlockingIOError):
            peer.recv(10)
        server.send_lock.release()
    assert _received(peer, 5) == b"later"


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
            assert b"200" in await kept.receive_some()
            await trio.testing.wait_all_tasks_blocked()
            shutdown.set()
            async with fresh, kept:
                assert await fresh.receive_some() == b""
                assert await kept.receive_some() == b""
        # and serve_app returned: nothing was left waiting


async def test_without_the_writes_patch_every_write_takes_hypercorns_path() -> None:
    ours, peer = socket.socketpair()
    stream = trio.SocketStream(trio.socket.from_stdlib_socket(ours))
    config = hypercorn_config("127.0.0.1:0")
    server = _TCPServer(None, config, None, {}, stream, direct_writes=False)  # type: ignore[arg-type]
    with ours, peer, trio.CancelScope() as scope:
        scope.cancel()
        # hypercorn's path goes through the scheduler (its send lock): cancelled, it writes
        # nothing; the direct write would have sent it at once.
        with pytest.raises(trio.Cancelled):
            await server.protocol_send(RawData(b"event: 1\n\n"))
        peer.setblocking(False)
        with pytest.raises(BlockingIOError):
            peer.recv(10)


@pytest.mark.parametrize(
    ("names", "listener"),
    [({"worker", "accept"}, BurstListener), ({"worker"}, trio.SocketListener)],
)
def test_the_accept_patch_chooses_the_listener(names: set[str], listener: type) -> None:
    config = hypercorn_config("127.0.0.1:0")
    sockets = config.create_sockets()
    try:
        listeners, _ = _listeners(config, sockets, burst="accept" in names)
        assert [type(each) for each in listeners] == [listener]
    finally:
        for sock in sockets.insecure_sockets:
            sock.close()


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

"""BurstListener: every waiting connection is accepted in one scheduler round."""

from __future__ import annotations

import socket
from collections.abc import Callable, Iterator

import pytest
import trio
import trio.testing

from robolearn.http import BurstListener

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

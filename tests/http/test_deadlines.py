"""Deadlines on every connection: for a request head and for an idle kept-alive connection.

The deadlines are short here (a fraction of a second to a second); "cut in time" means within
a few seconds of the deadline, never before it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from ._raw import chatkit_request, head, read_response, serving, trickle, until_closed

SHORT = 0.5
LONG = 30.0  # a deadline a test must not meet
SLACK = 3.0  # how late after its deadline a cut may come


def _cut_in_time(started: float, deadline: float) -> None:
    took = trio.current_time() - started
    assert deadline <= took < deadline + SLACK, f"cut after {took:.2f} s, deadline {deadline} s"


@pytest.mark.parametrize("before", ["nothing", "/healthz", "/chatkit"])
async def test_a_request_head_that_trickles_in_is_cut_at_the_header_timeout(
    database_url: str, tmp_path: Path, before: str
) -> None:
    async with serving(database_url, tmp_path, header_timeout=SHORT, keep_alive_timeout=LONG) as s:
        started = trio.current_time()  # a new connection's head is due from its accept
        stream = await s.connect()
        if before != "nothing":
            request = head("GET", before) if before == "/healthz" else chatkit_request()
            await stream.send_all(request)
            assert (await read_response(stream))[0] == 200
            started = trio.current_time()  # the next one's from its first byte
        async with trio.open_nursery() as nursery:
            nursery.start_soon(trickle, stream, head("GET", "/healthz"), 0.05)
            with trio.fail_after(LONG):
                assert await until_closed(stream) == b""  # no request, no answer
            _cut_in_time(started, SHORT)
            nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    "request_",
    [head("GET", "/healthz"), head("GET", "/no-such-route"), chatkit_request()],
    ids=["healthz", "404", "chatkit"],
)
async def test_an_idle_kept_alive_connection_is_closed_after_any_route(
    database_url: str, tmp_path: Path, request_: bytes
) -> None:
    async with serving(database_url, tmp_path, header_timeout=LONG, keep_alive_timeout=SHORT) as s:
        stream = await s.connect()
        started = trio.current_time()  # before the server's keep-alive timer starts
        await stream.send_all(request_)
        await read_response(stream)
        with trio.fail_after(LONG):
            assert await until_closed(stream) == b""
        _cut_in_time(started, SHORT)

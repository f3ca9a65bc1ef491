"""Send one model answer: the fault it drew, the pacing, and noticing the client leave.

Pacing follows a deadline schedule, as a real model's socket fills: delta ``n`` (from 1) is
due ``n * delay`` after the headers went out, so time spent sending does not add up over a
long answer, and deltas that are already due when one is written go in the same write.
Each write costs far more (Hypercorn, h11, a socket send) than building a delta, so under
load the stand-in slows its write rate, not its token rate (measured with 500 concurrent
20-token streams at 5 ms: 6.7 ms of stand-in CPU per stream with one write per frame, 3.2 ms
with due deltas batched and the tail sent with the body's end).

A second task waits on ASGI ``receive()`` for ``http.disconnect`` the whole time (also while
stalled or hung) and cancels the sending at once, so a client that leaves is recorded as
``client_closed`` with the moment it was seen leaving.
"""

from __future__ import annotations

import time

import attrs
import trio
from hypercorn.typing import ASGIReceiveCallable, ASGISendCallable

from ._faults import CutAfter, Fault, HangAfter, Stall, Status
from ._frames import Script
from ._http import HttpError, send_json
from ._ledger import Exchange, Ledger
from ._records import Outcome

__all__ = ["play"]


async def play(
    script: Script,
    fault: Fault | None,
    *,
    exchange: Exchange,
    ledger: Ledger,
    delay: float,
    receive: ASGIReceiveCallable,
    send: ASGISendCallable,
) -> None:
    """Send ``script`` as the answer to ``exchange``'s request, suffering ``fault``.

    The request body must have been read: what ``receive`` still yields is the client
    leaving. The outcome is recorded in ``ledger`` however this ends.
    """
    outcome: Outcome = "error"
    watch = _DisconnectWatch()
    try:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(watch.run, receive, nursery.cancel_scope)
            outcome = await _send(script, fault, exchange, delay, send, watch)
            nursery.cancel_scope.cancel()
    finally:
        if watch.left_at is not None:
            ledger.finish(exchange, "client_closed", watch.left_at)
        else:
            ledger.finish(exchange, outcome)


async def _send(
    script: Script,
    fault: Fault | None,
    exchange: Exchange,
    delay: float,
    send: ASGISendCallable,
    watch: _DisconnectWatch,
) -> Outcome:
    if isinstance(fault, Stall):
        await trio.sleep(fault.seconds)
    if isinstance(fault, Status):
        error = HttpError(
            fault.status,
            f"the stand-in was told to answer {fault.status}",
            "rate_limit_exceeded" if fault.status == 429 else None,
            fault.retry_after,
        )
        watch.completing = True
        await send_json(send, fault.status, error.body(), error.headers())
        return "error"

    headers = [(b"content-type", script.content_type.encode())]
    if script.content_length is not None:
        headers.append((b"content-length", str(script.content_length).encode()))
    else:
        headers.append((b"cache-control", b"no-cache"))
    headers.append((b"x-request-id", f"req_{exchange.tag}".encode()))
    await send(
        {"type": "http.response.start", "status": 200, "headers": headers, "trailers": False}
    )

    frames = [*script.head, *script.deltas, *script.tail]
    first_delta = len(script.head)
    end_of_deltas = first_delta + len(script.deltas)
    stop = len(frames)
    if isinstance(fault, CutAfter):
        stop = script.cut_point(fault.n)
    elif isinstance(fault, HangAfter):
        stop = script.hang_point(fault.n)
    # A clean answer's tail goes out with the body's end, in one write.
    sent, last = 0, end_of_deltas if stop == len(frames) else stop
    start = trio.current_time()
    while sent < last:
        if sent < first_delta or sent >= end_of_deltas:
            upto = min(first_delta if sent < first_delta else len(frames), last)
        else:
            if delay > 0:
                await trio.sleep_until(start + (sent - first_delta + 1) * delay)
                # Every delta already due goes in this write, as a socket fills while its
                # writer is busy: a loaded stand-in sends fewer, larger writes, not later ones.
                due = int((trio.current_time() - start) / delay)
            else:
                due = len(script.deltas)
            upto = min(first_delta + max(due, sent - first_delta + 1), end_of_deltas, last)
            exchange.deltas += upto - sent
        body = b"".join(frames[sent:upto])
        await send({"type": "http.response.body", "body": body, "more_body": True})
        sent = upto

    if isinstance(fault, CutAfter):
        # Returning without the last body message makes Hypercorn close the connection
        # mid-body: the client sees an incomplete chunked (or Content-Length) body.
        return "cut"
    if isinstance(fault, HangAfter):
        exchange.outcome = "hung"
        await trio.sleep_forever()
    watch.completing = True
    body = b"".join(frames[end_of_deltas:])
    await send({"type": "http.response.body", "body": body, "more_body": False})
    return "completed"


@attrs.define
class _DisconnectWatch:
    """Waits for ``http.disconnect``; notes when it came and cancels the answer.

    Hypercorn also delivers ``http.disconnect`` once the last body message has gone out;
    ``completing`` (set just before that message) says this one is not the client leaving.
    """

    left_at: float | None = None
    completing: bool = False

    async def run(self, receive: ASGIReceiveCallable, scope: trio.CancelScope) -> None:
        while (await receive())["type"] != "http.disconnect":
            pass
        if not self.completing:
            self.left_at = time.monotonic()
            scope.cancel()

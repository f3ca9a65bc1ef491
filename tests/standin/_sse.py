"""Reading the stand-in's SSE bytes back in tests, the way an OpenAI client would."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

import attrs
import httpx
import trio


@attrs.frozen
class Event:
    event: str | None
    data: str

    def json(self) -> Any:
        return json.loads(self.data)


def parse_sse(frames: Iterable[bytes]) -> list[Event]:
    """Events of an SSE byte stream (split anywhere); one ``data:`` line per event."""
    events = []
    for block in b"".join(frames).decode().split("\n\n"):
        if not block:
            continue
        fields = dict(line.split(": ", 1) for line in block.split("\n"))
        assert set(fields) <= {"event", "data"}, block
        events.append(Event(fields.get("event"), fields["data"]))
    return events


async def hang_up_after(url: str, body: Any, events: int) -> float:
    """POST ``body`` as JSON to ``url`` over a raw socket, read until ``events`` SSE events
    have arrived, then close the socket; returns ``time.monotonic()`` just before the close
    (so the server cannot have seen it earlier).

    A raw socket, because an httpx stream abandoned mid-body leaves its async generators to
    the garbage collector, which warns (and warnings are errors here).
    """
    target = httpx.URL(url)
    payload = json.dumps(body).encode()
    head = (
        f"POST {target.raw_path.decode()} HTTP/1.1\r\nHost: {target.host}\r\n"
        f"Content-Type: application/json\r\nContent-Length: {len(payload)}\r\n\r\n"
    ).encode()
    seen = b""
    stream = await trio.open_tcp_stream(target.host, target.port or 80)
    async with stream:
        await stream.send_all(head + payload)
        while seen.count(b"data: ") < events:
            chunk = await stream.receive_some()
            if not chunk:
                raise AssertionError(f"the stream ended early: {seen!r}")
            seen += chunk
        closing_at = time.monotonic()
    return closing_at

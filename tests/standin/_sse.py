"""Reading the stand-in's SSE bytes back in tests, the way an OpenAI client would."""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

import attrs


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

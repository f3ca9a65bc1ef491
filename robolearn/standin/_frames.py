"""Bytes on the wire: a `Script` of ready-made frames, and JSON templates for the deltas.

A load benchmark runs hundreds of streams through the stand-in, so the per-token path must
not build and serialise a whole chunk object each time. A `JsonTemplate` serialises a
chunk once with holes in it; a delta is then one ``json.dumps`` of its text and a join.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import attrs

__all__ = ["HOLE", "JsonTemplate", "Script", "dumps", "sse"]

# A value that marks a hole in a template; no real chunk contains it.
HOLE = "\ue000standin-hole\ue000"
_HOLE_JSON = json.dumps(HOLE, ensure_ascii=False)


def dumps(doc: Any) -> str:
    """Compact JSON, UTF-8 as is (the templates rely on both)."""
    return json.dumps(doc, ensure_ascii=False, separators=(",", ":"))


class JsonTemplate:
    """A JSON document serialised once, with `HOLE` values filled in per use.

    ``fill`` takes one already-encoded JSON fragment per hole, in the order the holes appear
    in the serialised document (dict insertion order).
    """

    __slots__ = ("_parts",)

    def __init__(self, doc: Any) -> None:
        self._parts = dumps(doc).split(_HOLE_JSON)

    @property
    def holes(self) -> int:
        return len(self._parts) - 1

    def fill(self, *fragments: str) -> str:
        if len(fragments) != self.holes:
            raise ValueError(f"the template has {self.holes} holes, got {len(fragments)} values")
        out = [self._parts[0]]
        for fragment, part in zip(fragments, self._parts[1:], strict=True):
            out.append(fragment)
            out.append(part)
        return "".join(out)


def sse(data: str, event: str | None = None) -> bytes:
    """One Server-Sent Event: optional ``event:`` line, one ``data:`` line, blank line."""
    head = f"event: {event}\n" if event is not None else ""
    return f"{head}data: {data}\n\n".encode()


@attrs.frozen
class Script:
    """Everything one answer sends after its headers, in order.

    ``head`` goes out at once, ``deltas`` on the pacing schedule, ``tail`` at once after the
    last delta. Faults are defined on this shape: ``hang_after n`` stops after ``n`` deltas;
    ``cut_after n`` counts deltas too, unless ``cut_counts_frames`` (the Responses stream and
    non-streamed bodies), where it counts frames and never lets the last one out.

    ``content_length`` is set for a non-streamed body, whose frames are then its two halves
    (so a cut lands inside the JSON, as a dropped connection would).
    """

    content_type: str
    head: Sequence[bytes]
    deltas: Sequence[bytes]
    tail: Sequence[bytes]
    cut_counts_frames: bool
    content_length: int | None = None

    @classmethod
    def body(cls, content_type: str, body: bytes) -> Script:
        """A non-streamed answer: ``body`` as two frames with its Content-Length."""
        half = len(body) // 2
        return cls(
            content_type=content_type,
            head=(),
            deltas=(),
            tail=(body[:half], body[half:]),
            cut_counts_frames=True,
            content_length=len(body),
        )

    @property
    def frame_count(self) -> int:
        return len(self.head) + len(self.deltas) + len(self.tail)

    def cut_point(self, n: int) -> int:
        """How many frames go out before ``cut_after n`` drops the connection."""
        if self.cut_counts_frames:
            return min(n, self.frame_count - 1)
        return self.hang_point(n)

    def hang_point(self, n: int) -> int:
        """How many frames go out before ``hang_after n`` stops sending."""
        return len(self.head) + min(n, len(self.deltas))

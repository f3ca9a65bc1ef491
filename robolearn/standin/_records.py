"""What the stand-in remembers about each model request, as the control API shows it.

Frozen snapshots with their JSON form; the server builds them, the client helper reads them
back, so both sides agree on one shape.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, cast

import attrs

__all__ = ["Outcome", "RecordedRequest", "StreamRecord"]

Outcome = Literal["completed", "client_closed", "cut", "hung", "error"]


@attrs.frozen(kw_only=True)
class RecordedRequest:
    """One model request (chat completions or responses), in arrival order from 0.

    Attributes:
        n: its number since the last reset; also the number of its `StreamRecord`.
        path: the request path, e.g. ``/v1/responses``.
        authorization: the ``Authorization`` header as sent, or None.
        body: the parsed JSON body.
    """

    n: int
    path: str
    authorization: str | None
    body: Any

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> RecordedRequest:
        return cls(
            n=doc["n"], path=doc["path"], authorization=doc["authorization"], body=doc["body"]
        )


@attrs.frozen(kw_only=True)
class StreamRecord:
    """How the answer to request ``n`` went (streamed or not: ``stream`` says which).

    Attributes:
        started: ``time.monotonic()`` when the request was recorded. CLOCK_MONOTONIC is
            shared by the processes of one Linux machine, so tests compare it with theirs.
        ended: ``time.monotonic()`` when the answer ended (finished, cut, or the client was
            seen leaving); None while it runs.
        outcome: ``completed``, ``client_closed``, ``cut``, ``error`` (an injected status,
            or the stand-in failed), ``hung`` while a ``hang_after`` fault holds it; None
            while it runs.
        deltas: text deltas (or tool-call argument pieces) sent so far.
    """

    n: int
    path: str
    stream: bool
    started: float
    ended: float | None
    outcome: Outcome | None
    deltas: int

    def to_json(self) -> dict[str, Any]:
        return attrs.asdict(self)

    @classmethod
    def from_json(cls, doc: Mapping[str, Any]) -> StreamRecord:
        return cls(
            n=doc["n"],
            path=doc["path"],
            stream=doc["stream"],
            started=doc["started"],
            ended=doc["ended"],
            outcome=cast(Outcome | None, doc["outcome"]),
            deltas=doc["deltas"],
        )

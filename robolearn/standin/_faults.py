"""Injected faults: what the next model request suffers instead of a clean answer.

Each kind is one frozen class with its JSON form, shared by the server (which parses
``POST /_standin/faults``) and the client helper (which sends it), so the two cannot drift.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import attrs

__all__ = ["CutAfter", "Fault", "FaultError", "HangAfter", "Stall", "Status", "fault_from_json"]


class FaultError(ValueError):
    """A fault description is malformed; the message says which form is expected."""


_FORMS = (
    '{"status": 429, "retry_after": 1.5?}, {"stall": seconds}, {"cut_after": n}, '
    'or {"hang_after": n}'
)


@attrs.frozen
class Status:
    """Answer with HTTP ``status`` and OpenAI's error JSON instead of the model's answer.

    ``retry_after`` (seconds) adds ``Retry-After`` (whole seconds, rounded up, as RFC 9110
    wants) and ``retry-after-ms`` (exact; the ``openai`` SDK reads it first).
    """

    status: int
    retry_after: float | None = None

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {"status": self.status}
        if self.retry_after is not None:
            doc["retry_after"] = self.retry_after
        return doc


@attrs.frozen
class Stall:
    """Wait ``seconds`` before sending the response headers, then answer normally."""

    seconds: float

    def to_json(self) -> dict[str, object]:
        return {"stall": self.seconds}


@attrs.frozen
class CutAfter:
    """Send ``n`` text deltas (Responses: ``n`` SSE events), then drop the connection.

    The body is never finished: no finish chunk, no ``[DONE]``, no ``response.completed``.
    A non-streamed answer is cut inside its JSON body (``n == 0``: right after the headers).
    """

    n: int

    def to_json(self) -> dict[str, object]:
        return {"cut_after": self.n}


@attrs.frozen
class HangAfter:
    """Send ``n`` deltas, then nothing more, keeping the connection open until the client
    leaves (a non-streamed answer hangs right after its headers)."""

    n: int

    def to_json(self) -> dict[str, object]:
        return {"hang_after": self.n}


Fault = Status | Stall | CutAfter | HangAfter


def _count(doc: Mapping[str, object], key: str) -> int:
    value = doc[key]
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise FaultError(f"{key} must be an int >= 0, got {value!r}")
    return value


def _seconds(doc: Mapping[str, object], key: str) -> float:
    value = doc[key]
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or not math.isfinite(value)
        or value < 0
    ):
        raise FaultError(f"{key} must be a number of seconds >= 0, got {value!r}")
    return float(value)


def fault_from_json(doc: object) -> Fault:
    """Parse one fault; raises `FaultError` naming the accepted forms."""
    if not isinstance(doc, Mapping):
        raise FaultError(f"a fault is a JSON object: {_FORMS}; got {doc!r}")
    keys = set(doc)
    if keys in ({"status"}, {"status", "retry_after"}):
        status = _count(doc, "status")
        if not 400 <= status <= 599:
            raise FaultError(f"status must be an HTTP error status (400-599), got {status}")
        retry_after = _seconds(doc, "retry_after") if doc.get("retry_after") is not None else None
        return Status(status, retry_after)
    if keys == {"stall"}:
        return Stall(_seconds(doc, "stall"))
    if keys == {"cut_after"}:
        return CutAfter(_count(doc, "cut_after"))
    if keys == {"hang_after"}:
        return HangAfter(_count(doc, "hang_after"))
    raise FaultError(f"unknown fault {dict(doc)!r}; expected one of {_FORMS}")

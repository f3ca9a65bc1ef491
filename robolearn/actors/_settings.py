"""Tuning knobs of an actor system, validated when built."""

from __future__ import annotations

import math

import attrs
from attrs import validators as v


def _count(_inst: object, attribute: attrs.Attribute[int], value: object) -> None:
    # bool is an int subclass; ``mailbox_capacity=True`` is a bug, not a capacity of 1.
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"{attribute.name} must be an int >= 0, got {value!r}")


def _seconds(_inst: object, attribute: attrs.Attribute[float], value: object) -> None:
    if (
        isinstance(value, bool)
        or not isinstance(value, int | float)
        or math.isnan(value)
        or value < 0
    ):
        raise ValueError(f"{attribute.name} must be a number of seconds >= 0, got {value!r}")


def _buffer_size(_inst: object, attribute: attrs.Attribute[float], value: object) -> None:
    # trio memory channels take an int or math.inf, nothing else.
    if value != math.inf and (isinstance(value, bool) or not isinstance(value, int) or value < 0):
        raise ValueError(f"{attribute.name} must be an int >= 0 or math.inf, got {value!r}")


@attrs.frozen(kw_only=True)
class ActorSettings:
    """Settings shared by every actor of one `ActorSystem`.

    Attributes:
        mailbox_capacity: messages that may wait in one actor's mailbox (not counting the
            one being handled); one more raises `MailboxFull`.
        idle_timeout: seconds an actor may wait for a message before it is passivated.
        max_restarts: crashes an actor may have within ``restart_window`` seconds; one more
            stops it and fails its queued messages (`RestartIntensityExceeded`).
        restart_window: the sliding window, in seconds, for ``max_restarts``.
        shutdown_grace: on system exit, seconds that running turns get to finish before
            they are cancelled.
        stop_timeout: seconds ``on_stop`` may take; it runs shielded from cancellation, so
            this bounds how long a stop (and thus shutdown) can be held up by it.
        reply_buffer: events a reply channel buffers before the handler's ``send`` waits for
            the reader. The default (unbounded) means a slow or stalled reader never holds
            up the actor; the events of one turn stay in memory until read or dropped.
        retry_after: the ``retry_after`` hint, in seconds, carried by `MailboxFull`.
    """

    mailbox_capacity: int = attrs.field(default=16, validator=[_count, v.ge(1)])
    idle_timeout: float = attrs.field(default=300.0, validator=[_seconds, v.gt(0)])
    max_restarts: int = attrs.field(default=3, validator=_count)
    restart_window: float = attrs.field(default=5.0, validator=[_seconds, v.gt(0)])
    shutdown_grace: float = attrs.field(default=10.0, validator=_seconds)
    stop_timeout: float = attrs.field(default=5.0, validator=_seconds)
    reply_buffer: float = attrs.field(default=math.inf, validator=_buffer_size)
    retry_after: float = attrs.field(default=1.0, validator=_seconds)

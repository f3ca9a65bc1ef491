"""Introspection: snapshots of an actor system's state and its running counters."""

from __future__ import annotations

from collections.abc import Hashable

import attrs


@attrs.frozen(kw_only=True)
class ActorSystemStatistics:
    """A snapshot returned by `ActorSystem.statistics`.

    Every accepted message is, at any moment, exactly one of: queued, being handled
    (one per busy actor), processed or failed. So
    ``messages_accepted == queued_messages + busy_actors + messages_processed +
    messages_failed`` always holds: no message is dropped silently.

    Attributes:
        live_actors: actors in the registry (running, idle or stopping).
        busy_actors: actors running a turn right now.
        queued_messages: messages waiting in all mailboxes.
        max_mailbox_depth: messages waiting in the fullest mailbox.
        messages_accepted: messages that entered a mailbox.
        messages_rejected: messages refused with `MailboxFull`.
        messages_processed: turns whose handler returned normally.
        messages_failed: messages answered with an error (crash, stop, shutdown, cancel).
        activations: behaviour incarnations started (``on_start`` succeeded).
        passivations: actors stopped because they were idle for ``idle_timeout``.
        crashes: exceptions from ``handle``, ``on_start`` or the factory.
        restarts: crashes after which the actor was allowed to go on.
        gave_up: actors stopped for exceeding their restart intensity.
        cancellations: calls to `ActorSystem.cancel` that found an actor.
        accepting: False once shutdown has begun.
    """

    live_actors: int
    busy_actors: int
    queued_messages: int
    max_mailbox_depth: int
    messages_accepted: int
    messages_rejected: int
    messages_processed: int
    messages_failed: int
    activations: int
    passivations: int
    crashes: int
    restarts: int
    gave_up: int
    cancellations: int
    accepting: bool


@attrs.frozen(kw_only=True)
class ActorStatistics:
    """A snapshot of one live actor, returned by `ActorSystem.actor_statistics`.

    Attributes:
        key: the actor's key.
        mailbox_depth: messages waiting in its mailbox.
        mailbox_capacity: how many may wait.
        busy: whether it is running a turn.
        turns: turns it has run since it was spawned (any outcome).
        recent_crashes: crashes counted against its restart intensity right now.
    """

    key: Hashable
    mailbox_depth: int
    mailbox_capacity: int
    busy: bool
    turns: int
    recent_crashes: int


@attrs.define
class Counters:
    """Monotonic counters of one system; owned and updated by its runtime only."""

    messages_accepted: int = 0
    messages_rejected: int = 0
    messages_processed: int = 0
    messages_failed: int = 0
    activations: int = 0
    passivations: int = 0
    crashes: int = 0
    restarts: int = 0
    gave_up: int = 0
    cancellations: int = 0

"""Actors on trio: one task per live key, one message at a time, supervised.

The model, for a newcomer:

- **Actors and keys.** An `ActorSystem` (opened with `open_actor_system`) maps keys (e.g.
  thread ids) to actors. ``system.request(key, payload)`` delivers a message; if no actor
  is live for ``key``, one is activated on demand: ``factory(key)`` builds its `Behaviour`,
  whose ``on_start`` runs before the first message. Actors run in the system's nursery:
  none outlives the ``async with`` block.
- **Mailbox.** Each actor has a bounded FIFO mailbox (`ActorSettings.mailbox_capacity`).
  ``request`` never waits: a full mailbox raises `MailboxFull` (map it to HTTP 429 with
  ``Retry-After``); no message is ever dropped silently; each one is either processed or
  failed with a typed error.
- **Turns.** An actor handles one message at a time, in arrival order: the next turn starts
  only when ``handle`` has returned. ``handle`` streams results through a `ReplySender`;
  the sender iterates the matching `Replies` as events arrive. If the sender goes away
  (closes `Replies`), the turn still runs to the end and its later events are dropped, so
  persistence still happens. Failures reach the sender as exceptions raised by the
  iteration: `ActorCrashed`, `ActorStopped`, `SystemShuttingDown`, `TurnCancelled`.
- **Supervision (one-for-one).** If ``handle`` raises, the error is logged with the key,
  that message's sender gets `ActorCrashed`, and a fresh behaviour incarnation takes the
  next message from the same mailbox. More than ``max_restarts`` crashes within
  ``restart_window`` seconds stop the actor and fail its queued messages with
  `RestartIntensityExceeded`. One actor crashing never takes the system or others down.
- **Idle.** After a turn that leaves the mailbox empty, ``on_idle`` runs (before any later
  turn): the place to let go of what only work needs, such as a lock on the key.
- **Passivation.** An actor idle for ``idle_timeout`` seconds runs ``on_stop`` and is
  removed; the next message activates it again. A message arriving while it stops is
  queued and handled by a new incarnation, never lost. Keep durable state elsewhere
  (Postgres): an actor is a cache of it plus a serialisation point.
- **Cancellation and shutdown.** `ActorSystem.cancel`, `ActorSystem.shutdown_now` or
  system exit (after ``shutdown_grace`` seconds for running turns) cancels handlers: they see
  `trio.Cancelled`, and must keep their cleanup shielded and bounded in time. Queued
  messages fail with `ActorStopped` / `SystemShuttingDown`.

This package knows nothing about HTTP, chat or storage: behaviours are injected.
"""

from ._behaviour import Behaviour, BehaviourFactory, Handler, from_handler
from ._errors import (
    ActorCrashed,
    ActorError,
    ActorStopped,
    MailboxFull,
    RestartIntensityExceeded,
    SystemShuttingDown,
    TurnCancelled,
)
from ._messages import Replies, ReplySender
from ._runtime import ActorSystem, open_actor_system
from ._settings import ActorSettings
from ._stats import ActorStatistics, ActorSystemStatistics

__all__ = [
    "ActorCrashed",
    "ActorError",
    "ActorSettings",
    "ActorStatistics",
    "ActorStopped",
    "ActorSystem",
    "ActorSystemStatistics",
    "Behaviour",
    "BehaviourFactory",
    "Handler",
    "MailboxFull",
    "Replies",
    "ReplySender",
    "RestartIntensityExceeded",
    "SystemShuttingDown",
    "TurnCancelled",
    "from_handler",
    "open_actor_system",
]

"""Typed errors of the actor runtime.

Every way a message can fail to get an answer has its own exception, so the HTTP layer can
map each one to a status code in one place (e.g. `MailboxFull` -> 429 with ``Retry-After``).
"""

from __future__ import annotations

from collections.abc import Hashable


class ActorError(Exception):
    """Base class of every error the actor runtime raises; ``key`` names the actor."""

    def __init__(self, key: Hashable, message: str) -> None:
        super().__init__(message)
        self.key = key


class MailboxFull(ActorError):
    """The actor's mailbox holds ``capacity`` messages already; the message was not accepted.

    Nothing was enqueued, so retrying is safe. ``retry_after`` (seconds) is a hint for an
    HTTP ``Retry-After`` header.
    """

    def __init__(self, key: Hashable, capacity: int, retry_after: float) -> None:
        super().__init__(
            key,
            f"mailbox of actor {key!r} is full ({capacity} messages waiting); "
            f"retry in {retry_after:g}s",
        )
        self.capacity = capacity
        self.retry_after = retry_after


class ActorStopped(ActorError):
    """The actor stopped before it could finish this message; ``reason`` says why.

    The message may not have been handled at all (it was still queued) or may have been
    interrupted mid-turn; the handler's own cleanup decides what was persisted.
    """

    def __init__(self, key: Hashable, reason: str) -> None:
        super().__init__(key, f"actor {key!r} stopped before finishing this message: {reason}")
        self.reason = reason


class SystemShuttingDown(ActorStopped):
    """The actor system is shutting down: it accepts no new messages and fails queued ones.

    Retry against another process (or after a restart).
    """

    def __init__(self, key: Hashable) -> None:
        super().__init__(key, "the actor system is shutting down")


class RestartIntensityExceeded(ActorStopped):
    """The actor crashed more than ``max_restarts`` times within ``restart_window`` seconds.

    The supervisor gave up on it and failed its queued messages; the next message
    activates a fresh actor.
    """

    def __init__(self, key: Hashable, max_restarts: int, restart_window: float) -> None:
        super().__init__(
            key,
            f"it crashed more than {max_restarts} times within {restart_window:g}s "
            "(restart intensity exceeded)",
        )
        self.max_restarts = max_restarts
        self.restart_window = restart_window


class ActorCrashed(ActorError):
    """The handler raised while handling this message; ``__cause__`` is the original error.

    The actor was restarted (or stopped, see `RestartIntensityExceeded`) and goes on with
    its next message. Events streamed before the crash were delivered.
    """

    def __init__(self, key: Hashable, cause: BaseException) -> None:
        super().__init__(
            key,
            f"actor {key!r} crashed while handling this message: {type(cause).__name__}: {cause}",
        )
        self.__cause__ = cause


class TurnCancelled(ActorError):
    """The requester cancelled this turn (`Replies.cancel`); the actor carries on."""

    def __init__(self, key: Hashable) -> None:
        super().__init__(key, f"the turn of actor {key!r} was cancelled by its requester")

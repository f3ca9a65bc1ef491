"""Messages and their reply channels: how a turn's results get back to the sender.

One request makes one `Envelope` (payload + `ReplySender`) for the actor and one `Replies`
for the sender; both ends share a `_TurnState`. Events travel through a trio memory channel;
the turn's outcome (success or a typed error) travels out of band in the shared state, so
delivering an error never waits for room in the channel.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from types import TracebackType
from typing import Generic, TypeVar

import attrs
import trio

from ._errors import ActorError

P = TypeVar("P")
E = TypeVar("E")


@attrs.define(eq=False)
class _TurnState:
    """What the two ends of one request know about its turn.

    Owned by the runtime: only it sets ``scope``/``error``/``finished``; the sender's side
    only sets ``cancel_requested``.
    """

    scope: trio.CancelScope | None = None
    cancel_requested: bool = False
    error: ActorError | None = None
    finished: bool = False
    on_finish: list[Callable[[], object]] = attrs.Factory(list)


class ReplySender(Generic[E]):
    """The handler's end of a reply channel: stream events to whoever sent the message.

    Sending never fails because the reader went away (client disconnect, request closed):
    events are then dropped, `receiver_gone` becomes true, and the handler finishes its turn
    as usual, so side effects such as persistence still happen. The runtime closes the
    channel when the turn ends; events sent after that are dropped as well.
    """

    __slots__ = ("_channel", "_receiver_gone", "_turn")

    def __init__(self, channel: trio.MemorySendChannel[E], turn: _TurnState) -> None:
        self._channel = channel
        self._turn = turn
        self._receiver_gone = False

    @property
    def receiver_gone(self) -> bool:
        """True once an event could not be delivered because nobody reads any more."""
        return self._receiver_gone

    async def send(self, event: E) -> None:
        """Deliver ``event`` to the sender; waits only if a bounded reply buffer is full."""
        try:
            await self._channel.send(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._receiver_gone = True

    def send_nowait(self, event: E) -> None:
        """`send` without waiting, for callers that cannot wait (a callback, asyncio code).

        Raises `trio.WouldBlock` if a bounded reply buffer is full.
        """
        try:
            self._channel.send_nowait(event)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            self._receiver_gone = True

    def _attach(self, scope: trio.CancelScope) -> None:
        """Bind the running turn's cancel scope, so `Replies.cancel` can reach it."""
        self._turn.scope = scope
        if self._turn.cancel_requested:
            scope.cancel("turn cancelled by its requester")

    def _finish(self, error: ActorError | None) -> None:
        """Record the outcome and close the channel; the reader sees the end (or ``error``)."""
        self._turn.scope = None
        self._turn.error = error
        self._turn.finished = True
        self._channel.close()
        callbacks, self._turn.on_finish = self._turn.on_finish, []
        for callback in callbacks:
            callback()

    @property
    def _cancel_requested(self) -> bool:
        return self._turn.cancel_requested


class Replies(Generic[E]):
    """The sender's end of a reply channel: iterate to receive the turn's events as they come.

    Iteration ends when the turn completes. If the turn failed, the iteration raises the
    typed error instead of ending: `ActorCrashed`, `ActorStopped` (and its subclasses
    `SystemShuttingDown`, `RestartIntensityExceeded`) or `TurnCancelled`, after any events
    sent before the failure.

    Use it as an async context manager (``async with system.request(...) as replies``):
    leaving the block closes the receive side. Closing does *not* cancel the turn; the
    handler finishes and its further events are dropped. Call `cancel` to stop the turn.
    """

    __slots__ = ("_channel", "_turn")

    def __init__(self, channel: trio.MemoryReceiveChannel[E], turn: _TurnState) -> None:
        self._channel = channel
        self._turn = turn

    def __aiter__(self) -> Replies[E]:
        return self

    async def __anext__(self) -> E:
        try:
            return await self._channel.receive()
        except trio.EndOfChannel:
            if self._turn.error is not None:
                raise self._turn.error from self._turn.error.__cause__
            raise StopAsyncIteration from None

    def ready(self) -> list[E]:
        """The events that have arrived already, without waiting (to pass them on in one go).

        Never raises: the turn's end, or its error, is for the next ``__anext__`` to report.
        """
        events: list[E] = []
        while True:
            try:
                events.append(self._channel.receive_nowait())
            except (trio.WouldBlock, trio.EndOfChannel):
                return events

    @property
    def finished(self) -> bool:
        """True once the turn has ended (successfully or not)."""
        return self._turn.finished

    def when_finished(self, callback: Callable[[], object]) -> None:
        """Call ``callback()`` once the turn has ended, however it ended (now, if it has).

        For what must last exactly as long as the turn, not as long as the reader: the
        reader may leave (close) while the turn goes on. Called in the runtime's task, so
        it must not block or raise.
        """
        if self._turn.finished:
            callback()
        else:
            self._turn.on_finish.append(callback)

    def cancel(self) -> None:
        """Cancel the turn: the handler sees `trio.Cancelled` now, or never runs if queued.

        The iteration then raises `TurnCancelled`. The actor goes on with its next message.
        A no-op once the turn has finished.
        """
        if self._turn.finished:
            return
        self._turn.cancel_requested = True
        if self._turn.scope is not None:
            self._turn.scope.cancel("turn cancelled by its requester")

    def close(self) -> None:
        """Stop receiving (idempotent); the turn itself goes on."""
        self._channel.close()

    async def aclose(self) -> None:
        """Like `close`, plus a checkpoint."""
        await self._channel.aclose()

    async def __aenter__(self) -> Replies[E]:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc_value: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()


@attrs.frozen
class Envelope(Generic[P, E]):
    """A message as it sits in a mailbox: the payload and where its results go."""

    payload: P
    reply: ReplySender[E]


def open_reply_channel(buffer: float = math.inf) -> tuple[ReplySender[E], Replies[E]]:
    """Make the two ends of one request's reply channel."""
    send, receive = trio.open_memory_channel[E](buffer)
    turn = _TurnState()
    return ReplySender(send, turn), Replies(receive, turn)

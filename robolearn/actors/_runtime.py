"""The actor system: registry, activation on demand, turns, supervision, shutdown."""

from __future__ import annotations

import logging
import math
from collections.abc import AsyncIterator, Callable, Hashable
from contextlib import asynccontextmanager
from typing import Generic, TypeVar

import attrs
import trio

from ._behaviour import Behaviour, BehaviourFactory
from ._errors import (
    ActorCrashed,
    ActorError,
    ActorStopped,
    MailboxFull,
    RestartIntensityExceeded,
    SystemShuttingDown,
    TurnCancelled,
)
from ._mailbox import Mailbox
from ._messages import Envelope, Replies, ReplySender, open_reply_channel
from ._settings import ActorSettings
from ._stats import ActorStatistics, ActorSystemStatistics, Counters

K = TypeVar("K", bound=Hashable)
P = TypeVar("P")
E = TypeVar("E")

_log = logging.getLogger("robolearn.actors")


@attrs.define(eq=False)
class _Actor(Generic[K, P, E]):
    """Runtime state of one live actor; owned by its `ActorSystem`.

    Kept small on purpose: with passivation most live actors are idle, and an idle actor
    costs this object, its mailbox and one parked task.
    """

    key: K
    mailbox: Mailbox[Envelope[P, E]]
    # Cancelling it ends the current round of incarnations (ActorSystem.cancel, shutdown);
    # its deadline is the idle timeout while the actor waits for mail. Created with the
    # actor, so that a cancel before its task even starts still counts.
    scope: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    stop_reason: str | None = None
    busy: bool = False
    turns: int = 0
    # Times of recent crashes, for the restart intensity; a tuple so idle actors share ().
    crash_times: tuple[float, ...] = ()


class ActorSystem(Generic[K, P, E]):
    """A registry of actors keyed by ``K``, each running in the system's nursery.

    Create one with `open_actor_system`; it is usable until that block exits. All methods
    are synchronous: they never wait, so a request is accepted or refused at once. Like
    any trio object, use it from the trio thread that opened it.
    """

    def __init__(
        self,
        factory: BehaviourFactory[K, P, E],
        settings: ActorSettings,
        nursery: trio.Nursery,
    ) -> None:
        self._factory = factory
        self._settings = settings
        self._nursery = nursery
        self._actors: dict[K, _Actor[K, P, E]] = {}
        self._counters = Counters()
        self._closing = False
        self._all_stopped = trio.Event()

    @property
    def settings(self) -> ActorSettings:
        """The settings this system was opened with."""
        return self._settings

    def request(self, key: K, payload: P) -> Replies[E]:
        """Put ``payload`` in the mailbox of actor ``key``, activating the actor if needed.

        Returns the sender's end of the reply channel; use it as an async context manager
        and iterate it for the turn's events (see `Replies`). Raises `MailboxFull` if the
        actor's mailbox is full and `SystemShuttingDown` once shutdown has begun; in both
        cases nothing was enqueued.
        """
        if self._closing:
            raise SystemShuttingDown(key)
        reply: ReplySender[E]
        replies: Replies[E]
        reply, replies = open_reply_channel(self._settings.reply_buffer)
        envelope = Envelope(payload, reply)
        actor = self._actors.get(key)
        if actor is None:
            actor = _Actor(key, Mailbox(self._settings.mailbox_capacity))
            actor.mailbox.put_nowait(envelope)
            self._actors[key] = actor
            self._nursery.start_soon(self._run_actor, actor, name=f"actor {key!r}")
        else:
            try:
                actor.mailbox.put_nowait(envelope)
            except trio.WouldBlock:
                self._counters.messages_rejected += 1
                raise MailboxFull(
                    key, self._settings.mailbox_capacity, self._settings.retry_after
                ) from None
        self._counters.messages_accepted += 1
        return replies

    def cancel(self, key: K) -> bool:
        """Stop actor ``key`` now: cancel its turn and fail its queued messages.

        The running handler sees `trio.Cancelled` (see `Behaviour` on cleanup), then
        ``on_stop`` runs; the interrupted and the queued messages fail with `ActorStopped`.
        Messages sent after this call are handled by a fresh incarnation. Returns False if
        no actor is live under ``key``.
        """
        actor = self._actors.get(key)
        if actor is None:
            return False
        self._counters.cancellations += 1
        actor.stop_reason = "it was cancelled"
        self._fail(key, actor.mailbox.drain(), _cancelled_error)
        actor.scope.cancel("ActorSystem.cancel")
        return True

    def stop_accepting(self) -> None:
        """Begin shutdown, letting the running turns go on: refuse new messages and fail
        queued ones (`SystemShuttingDown`).

        For a server that drains: a queued message would start a turn it may have to cut
        at the end of the grace period, while its sender can be told at once to go to
        another process.
        """
        self._begin_shutdown()

    def shutdown_now(self) -> None:
        """Begin shutdown without waiting: refuse new messages and fail queued ones
        (`SystemShuttingDown`), and cancel the running turns at once; their senders get
        `SystemShuttingDown` after the events sent before it.

        For a caller that measures the grace period itself: the HTTP server, whose streams
        still open when its grace ends should close with an error rather than be cut. The
        ``open_actor_system`` block still waits for the actors to stop when it exits.
        """
        self._begin_shutdown()
        self._cancel_all()

    def statistics(self) -> ActorSystemStatistics:
        """A snapshot of the system's state and counters (O(live actors))."""
        depths = [len(actor.mailbox) for actor in self._actors.values()]
        c = self._counters
        return ActorSystemStatistics(
            live_actors=len(self._actors),
            busy_actors=sum(actor.busy for actor in self._actors.values()),
            queued_messages=sum(depths),
            max_mailbox_depth=max(depths, default=0),
            messages_accepted=c.messages_accepted,
            messages_rejected=c.messages_rejected,
            messages_processed=c.messages_processed,
            messages_failed=c.messages_failed,
            activations=c.activations,
            passivations=c.passivations,
            crashes=c.crashes,
            restarts=c.restarts,
            gave_up=c.gave_up,
            cancellations=c.cancellations,
            accepting=not self._closing,
        )

    def actor_statistics(self, key: K) -> ActorStatistics | None:
        """A snapshot of actor ``key``, or None if it is not live."""
        actor = self._actors.get(key)
        if actor is None:
            return None
        return ActorStatistics(
            key=key,
            mailbox_depth=len(actor.mailbox),
            mailbox_capacity=actor.mailbox.capacity,
            busy=actor.busy,
            turns=actor.turns,
            recent_crashes=len(actor.crash_times),
        )

    # -- the actor task ---------------------------------------------------------------

    async def _run_actor(self, actor: _Actor[K, P, E]) -> None:
        try:
            while True:
                with actor.scope:
                    await self._serve(actor)
                if actor.scope.cancel_called and actor.stop_reason is None and not self._closing:
                    # Neither cancel() nor shutdown: the idle deadline fired.
                    self._counters.passivations += 1
                    _log.debug(
                        "passivated idle actor %r", actor.key, extra={"actor_key": actor.key}
                    )
                # A scope can be entered once; a cancel() during the round above is spent.
                actor.scope = trio.CancelScope()
                actor.stop_reason = None
                # From this check to the registry removal below there is no checkpoint, so
                # a concurrent request either lands in this mailbox before the check (and
                # is served by another round) or finds no actor and spawns a new one.
                if self._closing or not actor.mailbox:
                    return
        finally:
            del self._actors[actor.key]
            # Only non-empty if this task is dying of an outside cancellation or a bug.
            self._fail(actor.key, actor.mailbox.close(), self._stop_error_for)
            if self._closing and not self._actors:
                self._all_stopped.set()

    async def _serve(self, actor: _Actor[K, P, E]) -> None:
        """Handle messages until idle, closed or given up, (re)starting incarnations lazily.

        A round ends by returning, or by `trio.Cancelled` from ``actor.scope``: cancel(),
        shutdown, or the idle timeout, which is that scope's deadline while waiting for
        mail (rather than a scope of its own: one cancel scope less per idle actor).
        """
        behaviour: Behaviour[K, P, E] | None = None
        try:
            while True:
                actor.scope.deadline = trio.current_time() + self._settings.idle_timeout
                await actor.mailbox.wait_readable()
                actor.scope.deadline = math.inf
                if actor.scope.cancel_called or actor.mailbox.closed:
                    # Stop as decided, even if mail came in at the same time: whatever is
                    # still queued is handled by the next round.
                    return
                if behaviour is None:
                    behaviour = await self._start(actor)
                    if behaviour is None:
                        if self._record_crash(actor):
                            return
                        continue
                if not actor.mailbox:
                    continue  # cancel() emptied it while on_start ran
                # The envelope is not kept in a local: an idle actor must not keep its last
                # reply channel alive.
                crashed = await self._turn(actor, behaviour, actor.mailbox.get_nowait())
                if not crashed and not actor.mailbox:
                    crashed = await self._idle(actor, behaviour)
                if crashed:
                    gave_up = self._record_crash(actor)
                    stopping, behaviour = behaviour, None
                    await self._stop(actor, stopping)
                    del stopping  # nor its dead incarnation
                    if gave_up:
                        return
        finally:
            if behaviour is not None:
                await self._stop(actor, behaviour)

    async def _start(self, actor: _Actor[K, P, E]) -> Behaviour[K, P, E] | None:
        try:
            behaviour = self._factory(actor.key)
            await behaviour.on_start(actor.key)
        except Exception:
            _log.exception("actor %r failed to start", actor.key, extra={"actor_key": actor.key})
            return None
        self._counters.activations += 1
        return behaviour

    async def _idle(self, actor: _Actor[K, P, E], behaviour: Behaviour[K, P, E]) -> bool:
        """Run ``on_idle``; return True if it crashed."""
        try:
            await behaviour.on_idle(actor.key)
        except Exception:
            _log.exception("on_idle of actor %r failed", actor.key, extra={"actor_key": actor.key})
            return True
        return False

    async def _stop(self, actor: _Actor[K, P, E], behaviour: Behaviour[K, P, E]) -> None:
        # Shielded so it also runs when the actor is being cancelled; bounded so a stuck
        # on_stop cannot hold up shutdown forever.
        with trio.move_on_after(self._settings.stop_timeout, shield=True) as scope:
            try:
                await behaviour.on_stop(actor.key)
            except Exception:
                _log.exception(
                    "on_stop of actor %r failed", actor.key, extra={"actor_key": actor.key}
                )
        if scope.cancelled_caught:
            _log.warning(
                "on_stop of actor %r took longer than stop_timeout=%gs and was cancelled",
                actor.key,
                self._settings.stop_timeout,
                extra={"actor_key": actor.key},
            )

    async def _turn(
        self, actor: _Actor[K, P, E], behaviour: Behaviour[K, P, E], envelope: Envelope[P, E]
    ) -> bool:
        """Handle one message and settle its reply; return True if the handler crashed."""
        reply = envelope.reply
        if reply._cancel_requested:
            self._settle(reply, TurnCancelled(actor.key))
            return False
        error: ActorError | None = None
        actor.busy = True
        try:
            with trio.CancelScope() as turn_scope:
                reply._attach(turn_scope)
                try:
                    await behaviour.handle(actor.key, envelope.payload, reply)
                except Exception as exc:
                    error = ActorCrashed(actor.key, exc)
                    _log.error(
                        "actor %r crashed handling a message",
                        actor.key,
                        exc_info=exc,
                        extra={"actor_key": actor.key},
                    )
            if turn_scope.cancelled_caught and error is None:
                error = TurnCancelled(actor.key)
        except BaseException:
            # The actor's scope was cancelled (ActorSystem.cancel, shutdown) or an outer one.
            if error is None:
                error = self._stop_error_for(actor.key)
            raise
        finally:
            actor.busy = False
            actor.turns += 1
            self._settle(reply, error)
        return isinstance(error, ActorCrashed)

    # -- supervision --------------------------------------------------------------------

    def _record_crash(self, actor: _Actor[K, P, E]) -> bool:
        """Count a crash against the restart intensity; return True if the actor gives up."""
        self._counters.crashes += 1
        now = trio.current_time()
        settings = self._settings
        recent = (*(t for t in actor.crash_times if t > now - settings.restart_window), now)
        if len(recent) <= settings.max_restarts:
            actor.crash_times = recent
            self._counters.restarts += 1
            return False
        actor.crash_times = ()
        self._counters.gave_up += 1
        pending = actor.mailbox.drain()
        _log.error(
            "actor %r crashed %d times within %gs; stopping it and failing %d queued messages",
            actor.key,
            len(recent),
            settings.restart_window,
            len(pending),
            extra={"actor_key": actor.key},
        )
        self._fail(actor.key, pending, self._gave_up_error)
        return True

    def _gave_up_error(self, key: K) -> ActorError:
        return RestartIntensityExceeded(
            key, self._settings.max_restarts, self._settings.restart_window
        )

    def _stop_error_for(self, key: K) -> ActorError:
        if self._closing:
            return SystemShuttingDown(key)
        actor = self._actors.get(key)
        reason = actor.stop_reason if actor is not None else None
        return ActorStopped(key, reason or "it was stopped")

    def _settle(self, reply: ReplySender[E], error: ActorError | None) -> None:
        reply._finish(error)
        if error is None:
            self._counters.messages_processed += 1
        else:
            self._counters.messages_failed += 1

    def _fail(
        self, key: K, envelopes: list[Envelope[P, E]], make_error: Callable[[K], ActorError]
    ) -> None:
        for envelope in envelopes:
            self._settle(envelope.reply, make_error(key))

    # -- shutdown -----------------------------------------------------------------------

    def _begin_shutdown(self) -> None:
        """Stop accepting, fail every queued message, wake idle actors so they stop."""
        if self._closing:
            return
        self._closing = True
        for actor in self._actors.values():
            self._fail(actor.key, actor.mailbox.close(), SystemShuttingDown)
        if not self._actors:
            self._all_stopped.set()

    def _cancel_all(self) -> None:
        for actor in self._actors.values():
            actor.scope.cancel("actor system shutting down")

    async def _shutdown(self) -> None:
        self._begin_shutdown()
        try:
            with trio.move_on_after(self._settings.shutdown_grace):
                await self._all_stopped.wait()
        finally:
            self._cancel_all()


def _cancelled_error(key: Hashable) -> ActorError:
    return ActorStopped(key, "it was cancelled")


@asynccontextmanager
async def open_actor_system(
    factory: BehaviourFactory[K, P, E], settings: ActorSettings | None = None
) -> AsyncIterator[ActorSystem[K, P, E]]:
    """Open an `ActorSystem` whose actors run in a nursery owned by this block.

    ``factory(key)`` makes the behaviour of each new incarnation of actor ``key``.

    On a normal exit the system stops accepting (`SystemShuttingDown`), fails queued
    messages, lets running turns finish for up to ``settings.shutdown_grace`` seconds,
    then cancels the rest; ``on_stop`` hooks run, and no actor task outlives the block.
    If the block raises (or is cancelled), running turns are cancelled at once, and the
    block's exception propagates unwrapped.
    """
    body_error: BaseException | None = None
    async with trio.open_nursery() as nursery:
        system = ActorSystem(factory, settings or ActorSettings(), nursery)
        try:
            yield system
        except BaseException as exc:
            # Kept out of the nursery so it is not wrapped in an ExceptionGroup.
            body_error = exc
            system._begin_shutdown()
            system._cancel_all()
        else:
            await system._shutdown()
    if body_error is not None:
        raise body_error

"""What an actor does: the injected behaviour, and the factory that makes one per key."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Hashable
from typing import Generic, Protocol, TypeVar

import attrs

from ._messages import ReplySender

K = TypeVar("K", bound=Hashable)
K_contra = TypeVar("K_contra", bound=Hashable, contravariant=True)
P = TypeVar("P")
P_contra = TypeVar("P_contra", contravariant=True)
E = TypeVar("E")


class Behaviour(Protocol[K_contra, P_contra, E]):
    """The code of one actor incarnation, made by a `BehaviourFactory`.

    ``on_start`` runs before the first message an incarnation handles, ``on_idle`` after
    each turn that leaves the mailbox empty, ``on_stop`` after its last (passivation,
    restart after a crash, cancellation, shutdown); ``on_stop`` runs only if ``on_start``
    succeeded. Subclass this protocol to inherit no-op hooks, or
    implement all four methods.

    Cancellation: ``handle`` sees `trio.Cancelled` when the actor is cancelled
    (`ActorSystem.cancel`, shutdown after the grace period) or the requester cancels the
    turn (`Replies.cancel`). Cleanup that must await (e.g. persisting a partial answer)
    must be shielded *and* bounded, or it would hold up shutdown::

        except trio.Cancelled:
            with trio.move_on_after(2, shield=True):
                await store.save_partial(answer)
            raise

    ``on_stop`` already runs shielded, bounded by `ActorSettings.stop_timeout`.
    """

    async def on_start(self, key: K_contra) -> None:
        """Prepare for messages (load state...). Raising counts as a crash."""
        return None

    async def handle(self, key: K_contra, payload: P_contra, reply: ReplySender[E]) -> None:
        """Handle one message, streaming results into ``reply``; raising is a crash."""
        ...

    async def on_idle(self, key: K_contra) -> None:
        """The mailbox is empty after a turn: let go of what only work needs (a lock...).

        Runs in the actor's task between turns, so no turn starts before it returns.
        Raising counts as a crash.
        """
        return None

    async def on_stop(self, key: K_contra) -> None:
        """Release what ``on_start`` acquired. Errors are logged and ignored."""
        return None


BehaviourFactory = Callable[[K], Behaviour[K, P, E]]
"""Makes the behaviour of a new incarnation of the actor for a key."""

Handler = Callable[[K, P, ReplySender[E]], Awaitable[None]]
"""A bare ``handle`` function, for actors without state or hooks (see `from_handler`)."""


@attrs.frozen
class _HandlerBehaviour(Behaviour[K, P, E], Generic[K, P, E]):
    handler: Handler[K, P, E]

    async def handle(self, key: K, payload: P, reply: ReplySender[E]) -> None:
        await self.handler(key, payload, reply)


def from_handler(handler: Handler[K, P, E]) -> BehaviourFactory[K, P, E]:
    """Factory for actors whose whole behaviour is one ``async def handle(key, payload, reply)``."""
    behaviour: Behaviour[K, P, E] = _HandlerBehaviour(handler)
    return lambda _key: behaviour

"""Per-user stream slots that hold across processes: advisory locks on a connection of ours.

A user's slot k (k < their cap) is the session advisory lock ``(space + k, user_key)``. A
process takes one for each answer it streams, on one connection it keeps for the purpose,
and gives it back when the answer's turn ends. Nothing is written and nothing expires: a
process that dies (killed, crashed, its host gone) loses its connection, and PostgreSQL
frees that session's locks with it, at once (after a network partition, when the server's
TCP keepalive gives up on the connection).

Costs: one round trip to take a slot, one to give it back, both on the one connection,
one at a time. A slot given back is kept locked a moment (its unlock is queued, not
awaited): the same user's next answer on this process takes it over with no round trip.

If this connection is lost, so are its locks: answers streaming then go on uncounted by the
other processes until they end (the cap may be exceeded for that long), and slots are
taken on a new connection from then on.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import psycopg
import trio

from ._errors import StoreUnavailable
from ._postgres import PostgresStore

__all__ = ["SLOT_SPACE", "Slot", "SlotStatistics", "StreamSlotLocks", "open_stream_slot_locks"]

_log = logging.getLogger("robolearn.store")

# The first key of the two-key advisory locks of stream slots ("RS" 0000): slot k of a user
# locks (SLOT_SPACE + k, user_key). Two-key locks are a space apart from one-key (bigint)
# ones, such as the migrations' lock.
SLOT_SPACE = 0x5253_0000

_Conn = psycopg.Connection[Any]


def user_key(user_id: str) -> int:
    """A user's second lock key: 32 bits of a hash (two users sharing one share a cap)."""
    digest = hashlib.blake2b(user_id.encode(), digest_size=4).digest()
    return int.from_bytes(digest, "big", signed=True)


@attrs.frozen
class Slot:
    """A stream slot held by this process: give it back with :meth:`StreamSlotLocks.release`."""

    user_key: int
    number: int
    # The connection it was taken on: when that is gone, so is the lock.
    generation: int


@attrs.frozen
class SlotStatistics:
    """``held``: slots in use; ``parked``: given back, their unlock not yet run;
    ``connected``: the lock connection is open; ``connections``: opened so far."""

    held: int
    parked: int
    connected: bool
    connections: int


@attrs.define(eq=False)
class StreamSlotLocks:
    """Stream slots as advisory locks; see the module's docstring. Open with
    :func:`open_stream_slot_locks`; used from trio code only."""

    _store: PostgresStore
    _nursery: trio.Nursery
    _conn: _Conn | None = attrs.field(default=None, init=False)
    _generation: int = attrs.field(default=0, init=False)
    _lock: trio.Lock = attrs.field(factory=trio.Lock, init=False)
    # Per user key, of this generation: slots in use, and slots given back whose unlock is
    # queued (the next take of that user adopts one instead).
    _held: dict[int, set[int]] = attrs.field(factory=dict, init=False)
    _parked: dict[int, set[int]] = attrs.field(factory=dict, init=False)

    def statistics(self) -> SlotStatistics:
        return SlotStatistics(
            held=sum(map(len, self._held.values())),
            parked=sum(map(len, self._parked.values())),
            connected=self._conn is not None,
            connections=self._generation,
        )

    async def take(self, user_id: str, cap: int) -> Slot | None:
        """Take one of ``user_id``'s ``cap`` slots, or None when every one is held (here or
        by another process). Raises :class:`StoreUnavailable` when the database cannot
        answer: the caller decides what to do without it."""
        key = user_key(user_id)
        slot = self._adopt(key)
        if slot is not None:
            return slot
        health = self._store.health
        if health is not None:
            health.check()
        async with self._lock:
            slot = self._adopt(key)  # given back while this waited
            if slot is not None:
                return slot
            conn = await self._connection()
            mine = self._held.get(key, set()) | self._parked.get(key, set())
            candidates = [k for k in range(cap) if k not in mine]
            if not candidates:
                return None
            try:
                number = await trio.to_thread.run_sync(_take, conn, key, candidates)
            except psycopg.Error as exc:
                raise self._lost(conn, exc) from None
            if number is None:
                return None
            self._held.setdefault(key, set()).add(number)
            return Slot(key, number, self._generation)

    def release(self, slot: Slot) -> None:
        """Give ``slot`` back; never blocks (the unlock runs in the background)."""
        if slot.generation != self._generation:
            return  # taken on a connection since lost: its lock went with it
        _discard(self._held, slot.user_key, slot.number)
        self._parked.setdefault(slot.user_key, set()).add(slot.number)
        # Shutting down (the nursery is closed): closing the connection frees every lock.
        with contextlib.suppress(RuntimeError):
            self._nursery.start_soon(self._unlock, slot)

    def _adopt(self, key: int) -> Slot | None:
        parked = self._parked.get(key)
        if not parked:
            return None
        number = parked.pop()
        if not parked:
            del self._parked[key]
        self._held.setdefault(key, set()).add(number)
        return Slot(key, number, self._generation)

    async def _unlock(self, slot: Slot) -> None:
        async with self._lock:
            conn = self._conn
            if conn is None or slot.generation != self._generation:
                return
            if slot.number not in self._parked.get(slot.user_key, ()):
                return  # taken over by the same user's next answer
            _discard(self._parked, slot.user_key, slot.number)
            try:
                await trio.to_thread.run_sync(_unlock, conn, slot)
            except psycopg.Error as exc:
                self._lost(conn, exc)

    async def _connection(self) -> _Conn:
        if self._conn is not None:
            return self._conn
        # The pool's first query applies migrations (robolearn_take_slot is one).
        await self._store.migrate()
        try:
            conn = await trio.to_thread.run_sync(self._store.connect_dedicated, "stream slots")
        except psycopg.Error as exc:
            if self._store.health is not None:
                self._store.health.suspect()
            raise StoreUnavailable("database unavailable: no lock connection") from exc
        self._conn = conn
        self._generation += 1
        self._held.clear()
        self._parked.clear()
        return conn

    def _lost(self, conn: _Conn, exc: psycopg.Error) -> StoreUnavailable:
        """The lock connection failed: forget it (and the slots it held)."""
        _log.warning("stream slot connection lost (%s): its slots are free", type(exc).__name__)
        conn.close()
        self._conn = None
        if self._store.health is not None:
            self._store.health.suspect()
        return StoreUnavailable("database unavailable: lock connection lost")

    async def aclose(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            await trio.to_thread.run_sync(conn.close)


@asynccontextmanager
async def open_stream_slot_locks(store: PostgresStore) -> AsyncIterator[StreamSlotLocks]:
    """Stream slots on ``store``'s database, for the block; its connection (and every slot
    still held) is closed at the end."""
    async with trio.open_nursery() as nursery:
        locks = StreamSlotLocks(store, nursery)
        try:
            yield locks
        finally:
            nursery.cancel_scope.cancel()
            with trio.CancelScope(shield=True):
                await locks.aclose()


def _take(conn: _Conn, key: int, candidates: list[int]) -> int | None:
    row = conn.execute(
        b"SELECT robolearn_take_slot(%s::int4, %s::int4, %s::int4[])", (SLOT_SPACE, key, candidates)
    ).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def _unlock(conn: _Conn, slot: Slot) -> None:
    conn.execute(
        b"SELECT pg_advisory_unlock(%s::int4, %s::int4)", (SLOT_SPACE + slot.number, slot.user_key)
    )


def _discard(slots: dict[int, set[int]], key: int, number: int) -> None:
    numbers = slots.get(key)
    if numbers is not None:
        numbers.discard(number)
        if not numbers:
            del slots[key]

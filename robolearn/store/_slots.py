"""Per-user stream slots that hold across processes: advisory locks on a connection of ours.

A user's slot k (k < their cap) is the session advisory lock ``(space + k, user_key)``. A
process takes one for each answer it streams, on one connection it keeps for the purpose,
and gives it back when the answer's turn ends. Nothing is written and nothing expires: a
process that dies (killed, crashed, its host gone) loses its connection, and PostgreSQL
frees that session's locks with it, at once (after a network partition, when the server's
TCP keepalive gives up on the connection).

Costs: a round trip to take a slot and one to give it back, shared by every answer that
starts or ends meanwhile (see :class:`StreamSlotLocks`). A slot given back is kept locked a
moment (its unlock is queued, not awaited): the same user's next answer on this process
takes it over with no round trip.

If this connection is lost, so are its locks: answers streaming then go on uncounted by the
other processes until they end (the cap may be exceeded for that long), and slots are
taken on a new connection from then on.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import attrs
import psycopg
import trio

from ._background import running
from ._errors import StoreFailed, StoreUnavailable
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
class _Wanted:
    """A take waiting for the worker: ``outcome`` once ``done``."""

    key: int
    cap: int
    done: trio.Event = attrs.field(factory=trio.Event)
    outcome: Slot | StoreUnavailable | None = None
    abandoned: bool = False  # its taker was cancelled: a slot taken for it goes back


@attrs.define(eq=False)
class StreamSlotLocks:
    """Stream slots as advisory locks; see the module's docstring. Open with
    :func:`open_stream_slot_locks`; used from trio code only.

    One worker task owns the connection. Each round it sends every pending unlock and every
    pending take (one statement per user, however many of theirs wait) in one pipeline: one
    worker thread, one network round trip, however many answers start and end meanwhile.
    """

    _store: PostgresStore
    _conn: _Conn | None = attrs.field(default=None, init=False)
    _generation: int = attrs.field(default=0, init=False)
    _work: trio.Event = attrs.field(factory=trio.Event, init=False)
    _wanted: list[_Wanted] = attrs.field(factory=list, init=False)
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
        await trio.lowlevel.checkpoint_if_cancelled()
        key = user_key(user_id)
        slot = self._adopt(key)
        if slot is not None:
            # Taken already: a cancellation now would lose it.
            await trio.lowlevel.cancel_shielded_checkpoint()
            return slot
        health = self._store.health
        if health is not None:
            health.check()
        wanted = _Wanted(key, cap)
        self._wanted.append(wanted)
        self._work.set()
        try:
            await wanted.done.wait()
        except BaseException:
            wanted.abandoned = True  # a slot taken for it meanwhile goes back
            raise
        if isinstance(wanted.outcome, StoreUnavailable):
            raise wanted.outcome
        return wanted.outcome

    def release(self, slot: Slot) -> None:
        """Give ``slot`` back; never blocks (the unlock runs in the background)."""
        if slot.generation != self._generation:
            return  # taken on a connection since lost: its lock went with it
        _discard(self._held, slot.user_key, slot.number)
        self._parked.setdefault(slot.user_key, set()).add(slot.number)
        self._work.set()

    def _adopt(self, key: int) -> Slot | None:
        parked = self._parked.get(key)
        if not parked:
            return None
        number = parked.pop()
        if not parked:
            del self._parked[key]
        self._held.setdefault(key, set()).add(number)
        return Slot(key, number, self._generation)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """The worker: a round of unlocks and takes whenever there is work, until cancelled."""
        task_status.started()
        while True:
            await self._work.wait()
            self._work = trio.Event()
            await self._round()

    async def _round(self) -> None:
        # Per user, in arrival order: a statement takes all of a user's slots at once, so
        # it knows which ones this session holds (a second take would re-enter a lock).
        takes: dict[int, list[_Wanted]] = {}
        for wanted in self._wanted:
            if wanted.abandoned:
                continue
            slot = self._adopt(wanted.key)  # given back since it asked
            if slot is not None:
                self._settle(wanted, slot)
            else:
                takes.setdefault(wanted.key, []).append(wanted)
        self._wanted = []
        if not takes and not self._parked:
            return
        try:
            conn = await self._connection()
        except StoreUnavailable as exc:
            for waiting in takes.values():
                for wanted in waiting:
                    self._settle(wanted, exc)
            return
        # From here to the pipeline nothing awaits: what is parked now is what it unlocks.
        unlocks = [(key, n) for key, numbers in self._parked.items() for n in numbers]
        self._parked.clear()
        requests = [
            _Takes(key, max(w.cap for w in waiting), sorted(self._held.get(key, ())), len(waiting))
            for key, waiting in takes.items()
        ]
        try:
            results = await trio.to_thread.run_sync(_pipeline, conn, unlocks, requests)
        except psycopg.Error as exc:
            lost = self._lost(conn, exc)
            for waiting in takes.values():
                for wanted in waiting:
                    self._settle(wanted, lost)
            return
        for waiting, numbers in zip(takes.values(), results, strict=True):
            self._held.setdefault(waiting[0].key, set()).update(numbers)
            for n, wanted in enumerate(waiting):
                # The first to ask get the slots; the others are over the cap.
                slot = Slot(wanted.key, numbers[n], self._generation) if n < len(numbers) else None
                self._settle(wanted, slot)
            if not self._held[waiting[0].key]:
                del self._held[waiting[0].key]

    def _fail_waiting(self) -> None:
        """Closing: whoever still waits for a slot gets none."""
        closed = StoreUnavailable("stream slots closed")
        for wanted in self._wanted:
            self._settle(wanted, closed)
        self._wanted = []

    def _settle(self, wanted: _Wanted, outcome: Slot | StoreUnavailable | None) -> None:
        if wanted.abandoned and isinstance(outcome, Slot):
            self.release(outcome)
        wanted.outcome = outcome
        wanted.done.set()

    async def _connection(self) -> _Conn:
        if self._conn is not None:
            return self._conn
        try:
            # The pool's first query applies migrations (robolearn_take_slot is one).
            await self._store.migrate()
            conn = await trio.to_thread.run_sync(self._store.connect_dedicated, "stream slots")
        except (psycopg.Error, StoreUnavailable, StoreFailed) as exc:
            if self._store.health is not None:
                self._store.health.suspect()
            raise StoreUnavailable("database unavailable: no lock connection") from exc
        self._conn = conn
        self._generation += 1
        self._held.clear()
        self._parked.clear()
        return conn

    def _lost(self, conn: _Conn, exc: psycopg.Error) -> StoreUnavailable:
        """The lock connection failed: forget it, and the slots it held."""
        _log.warning("stream slot connection lost (%s): its slots are free", type(exc).__name__)
        conn.close()
        self._conn = None
        self._held.clear()
        self._parked.clear()
        if self._store.health is not None:
            self._store.health.suspect()
        return StoreUnavailable("database unavailable: lock connection lost")

    async def aclose(self) -> None:
        """Close the connection (freeing every slot); whoever still waits gets none."""
        self._fail_waiting()
        conn, self._conn = self._conn, None
        if conn is not None:
            await trio.to_thread.run_sync(conn.close)


@asynccontextmanager
async def open_stream_slot_locks(store: PostgresStore) -> AsyncIterator[StreamSlotLocks]:
    """Stream slots on ``store``'s database, for the block; its connection (and every slot
    still held) is closed at the end."""
    locks = StreamSlotLocks(store)
    try:
        async with running(locks.run):
            yield locks
    finally:
        # Once its task has ended: closed under a round trip still running in a thread, the
        # connection would fail it, and be logged as lost.
        with trio.CancelScope(shield=True):
            await locks.aclose()


@attrs.frozen
class _Takes:
    """Up to ``wanted`` of a user's ``cap`` slots, skipping those in ``held``."""

    key: int
    cap: int
    held: list[int]
    wanted: int


def _pipeline(conn: _Conn, unlocks: list[tuple[int, int]], takes: list[_Takes]) -> list[list[int]]:
    """Unlock ``unlocks`` ((user key, slot) pairs), then make ``takes``, in one round trip;
    returns the slots each take got."""
    with conn.pipeline():
        if unlocks:
            conn.execute(
                b"SELECT pg_advisory_unlock(%s::int4 + k, u)"
                b" FROM unnest(%s::int4[], %s::int4[]) AS t(u, k)",
                (SLOT_SPACE, [u for u, _ in unlocks], [k for _, k in unlocks]),
            )
        cursors = [
            conn.execute(
                b"SELECT robolearn_take_slots(%s::int4, %s::int4, %s::int4, %s::int4[], %s::int4)",
                (SLOT_SPACE, take.key, take.cap, take.held, take.wanted),
            )
            for take in takes
        ]
    rows = [cursor.fetchone() for cursor in cursors]
    return [[] if row is None or row[0] is None else [int(n) for n in row[0]] for row in rows]


def _discard(slots: dict[int, set[int]], key: int, number: int) -> None:
    numbers = slots.get(key)
    if numbers is not None:
        numbers.discard(number)
        if not numbers:
            del slots[key]

"""ThreadLocks: one writer per chat thread across processes, on PostgreSQL advisory locks.

A thread's actor takes its thread's lock while it has work and gives it back when its mailbox
is empty, so at most one process runs a turn of a thread at a time. The locks of a process
live in ONE session (`PgSession`), owned by one task that sends the pending takes and
releases of all its actors in one round trip and listens for the other processes' news:

- take: ``pg_try_advisory_lock`` (never a blocking lock: one waiter would block the session
  of every other thread), then, as the next statement of the same round trip (so a snapshot
  taken after the lock), the thread's ``version``, which tells the actor whether someone else
  wrote the thread since its memo was right;
- a take that fails announces itself (``NOTIFY w:<key>``) and waits for a release notice
  (``r:<key>``) or for ``retry`` seconds, whichever comes first: a holder killed with SIGKILL
  frees its locks when its session ends, without a word;
- a release is sent ``linger`` seconds later (called off if the thread has work again by
  then, which then costs no round trip), or at once if someone waits for it;
- a holder that hears ``w`` for a lock it holds marks it ``contended``: its actor gives it
  back after the current turn even with more mail waiting, and the release says ``r``. An
  uncontended release says nothing, so a lone process sends no NOTIFY at all. A ``w`` that
  arrives just after such a silent release is answered with an ``r`` then;
- a waiter that gets the lock after waiting says so (``g:<key>``): the other waiters announce
  themselves again, to the new holder, and a process that yielded the lock waits its turn.

The session's loss (database restart, terminated backend) loses every lock at once: leases
are marked lost and the turns running under them are cancelled (`ThreadLease.guard`); takes
under way are tried again on the next session. A take while there is none makes the task
connect at once, and fails with `StoreUnavailable` if it cannot.
"""

from __future__ import annotations

import enum
import hashlib
import logging
import math
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager

import attrs
import trio
from psycopg import pq

from ._background import running
from ._errors import StoreUnavailable
from ._session import PgSession, SessionLost

__all__ = ["ThreadLease", "ThreadLockStatistics", "ThreadLocks", "lock_key", "open_thread_locks"]

_log = logging.getLogger("robolearn.store")

CHANNEL = "robolearn_thread_locks"


def lock_key(user_id: str, thread_id: str) -> int:
    """The advisory lock key of ``user_id``'s thread ``thread_id``: 64 bits of a hash."""
    digest = hashlib.blake2b(
        f"{user_id}\x00{thread_id}".encode(), digest_size=8, person=b"robolearn-lock"
    ).digest()
    return int.from_bytes(digest, "big", signed=True)


@attrs.define(eq=False)
class ThreadLease:
    """This process's hold on one thread's lock, from the take that made it until released or
    lost. Each take makes a new lease: a caller that still has the lease it last saw knows
    nobody else took the lock in between."""

    key: int
    # The thread's version when the lock was taken (0: no such thread; None: unknown).
    version: int | None
    # Another process waits for it: give it back after the current turn.
    contended: bool = False
    # The session holding it ended: someone else may have it now.
    lost: bool = False
    _turn: trio.CancelScope | None = None

    @contextmanager
    def guard(self) -> Iterator[trio.CancelScope]:
        """A cancel scope for work done under the lock, cancelled if the lock is lost."""
        with trio.CancelScope() as scope:
            if self.lost:
                scope.cancel("the thread's lock was lost")
            self._turn = scope
            try:
                yield scope
            finally:
                self._turn = None

    def _lose(self) -> None:
        self.lost = True
        if self._turn is not None:
            self._turn.cancel("the thread's lock was lost")


class _State(enum.Enum):
    READY = "ready"  # to be tried in the next round trip
    SENT = "sent"  # in the round trip under way
    WAITING = "waiting"  # tried and failed: waits for news or its retry time


@attrs.define(eq=False)
class _Attempt:
    key: int
    user_id: str
    thread_id: str
    state: _State = _State.READY
    done: trio.Event = attrs.field(factory=trio.Event)
    lease: ThreadLease | None = None
    error: Exception | None = None
    # A try failed, so others may wait too: say so when it succeeds.
    waited: bool = False
    retry_at: float = math.inf
    # Nobody wants it any more: a lock it still gets is given back at once.
    abandoned: bool = False


@attrs.frozen
class ThreadLockStatistics:
    connected: bool
    held: int
    attempts: int
    waiting: int
    round_trips: int
    taken: int
    failed_tries: int
    contended: int
    sessions_lost: int


@attrs.define
class _Counters:
    round_trips: int = 0
    taken: int = 0
    failed_tries: int = 0
    contended: int = 0
    sessions_lost: int = 0


class ThreadLocks:
    """The thread locks of one process. Open with `open_thread_locks`; use from its trio
    thread. `acquire` waits; `release` never does."""

    def __init__(
        self, conninfo: str, *, retry: float, connect_timeout: float, linger: float = 0.1
    ) -> None:
        self._conninfo = conninfo
        self._retry = retry
        self._linger = linger
        self._connect_timeout = connect_timeout
        self._session: PgSession | None = None
        self._held: dict[int, ThreadLease] = {}
        # Leases to give back: key -> (lease, when). Kept ``linger`` seconds, or until someone
        # else asks for them, so that a thread's next message soon after needs no round trip.
        self._unlock: dict[int, tuple[ThreadLease, float]] = {}
        self._attempts: dict[int, _Attempt] = {}
        # Keys to say ``r`` for without unlocking (see the module docstring).
        self._announce: set[int] = set()
        # Locks given back without a word: key -> when.
        self._silent: dict[int, float] = {}
        self._idle: trio.CancelScope | None = None
        # Set when an attempt to connect ends; a take while disconnected waits for one.
        self._connect_outcome = trio.Event()
        self._reconnect_now = trio.Event()
        self._counters = _Counters()

    @property
    def connected(self) -> bool:
        return self._session is not None

    @property
    def backend_pid(self) -> int | None:
        """The server process of this lock session (None while disconnected)."""
        return None if self._session is None else self._session.backend_pid

    async def acquire(self, user_id: str, thread_id: str) -> ThreadLease:
        """Wait until this process holds the thread's lock; return its lease.

        The lease returned last time comes back if the lock was held all along (a release
        not yet sent is called off), unless another process asked for it. While the lock
        session is down, tries to connect at once and raises `StoreUnavailable` if that
        fails. Cancelling the wait is safe: a
        lock taken for nobody is kept for the next `acquire` or given back by `release`.
        """
        key = lock_key(user_id, thread_id)
        lease = self._held.get(key)
        if lease is not None and not (lease.contended and key in self._unlock):
            self._unlock.pop(key, None)
            return lease
        if self._session is None:
            await self._reconnect()
        attempt = self._attempts.get(key)
        if attempt is None:
            attempt = _Attempt(key, user_id, thread_id)
            if lease is not None:
                # Given back to a waiter of another process: wait for it to take the lock
                # (``g``) before trying again, or this process would win it straight back.
                attempt.state = _State.WAITING
                attempt.waited = True
                attempt.retry_at = trio.current_time() + self._retry
            self._attempts[key] = attempt
            self._wake()
        attempt.abandoned = False
        await attempt.done.wait()
        if attempt.error is not None:
            raise attempt.error
        assert attempt.lease is not None
        return attempt.lease

    def release(self, user_id: str, thread_id: str) -> None:
        """Give the thread's lock back (in the next round trip), and call off a take."""
        key = lock_key(user_id, thread_id)
        attempt = self._attempts.get(key)
        if attempt is not None:
            attempt.abandoned = True
            if attempt.state is not _State.SENT:
                del self._attempts[key]
                attempt.error = StoreUnavailable("the take of a thread lock was called off")
                attempt.done.set()
        lease = self._held.get(key)
        if lease is not None and key not in self._unlock:
            due = trio.current_time() + self._linger
            self._unlock[key] = (lease, due)
            if lease.contended or self._linger <= 0:
                self._wake()
            elif self._idle is not None:
                self._idle.deadline = min(self._idle.deadline, due)

    def statistics(self) -> ThreadLockStatistics:
        c = self._counters
        return ThreadLockStatistics(
            connected=self.connected,
            held=len(self._held),
            attempts=len(self._attempts),
            waiting=sum(a.state is _State.WAITING for a in self._attempts.values()),
            round_trips=c.round_trips,
            taken=c.taken,
            failed_tries=c.failed_tries,
            contended=c.contended,
            sessions_lost=c.sessions_lost,
        )

    # -- the session's task ----------------------------------------------------------------

    def _connect_tried(self) -> None:
        tried, self._connect_outcome = self._connect_outcome, trio.Event()
        tried.set()

    async def _reconnect(self) -> None:
        """Wait for a connection attempt made now (or under way); raise if it fails."""
        outcome = self._connect_outcome
        self._reconnect_now.set()
        await outcome.wait()
        if self._session is None:
            raise StoreUnavailable("database unavailable: no thread lock session")

    def _wake(self) -> None:
        if self._idle is not None:
            self._idle.cancel()

    async def _run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        delay = 0.1
        warned = False
        while True:
            try:
                session = await PgSession.connect(
                    self._conninfo, connect_timeout=self._connect_timeout
                )
                try:
                    await session.query(f"LISTEN {CHANNEL}")
                except BaseException:
                    session.close()
                    raise
            except SessionLost as exc:
                if not warned:
                    _log.warning("thread lock session not connected, retrying: %s", exc)
                    warned = True
                self._fail_attempts()
                self._connect_tried()
                task_status.started()
                task_status = trio.TASK_STATUS_IGNORED
                # Backoff, cut short by a take: a database that is back serves it at once.
                self._reconnect_now = trio.Event()
                with trio.move_on_after(delay):
                    await self._reconnect_now.wait()
                delay = min(2 * delay, 2.0)
                continue
            if warned:
                _log.warning("thread lock session connected again")
            delay, warned = 0.1, False
            self._session = session
            self._connect_tried()
            task_status.started()
            task_status = trio.TASK_STATUS_IGNORED
            try:
                await self._serve(session)
            except SessionLost as exc:
                _log.warning(
                    "thread lock session lost (%s): this process holds no thread lock now", exc
                )
            finally:
                self._session = None
                session.close()
                self._lose_everything()

    async def _serve(self, session: PgSession) -> None:
        while True:
            self._on_notifications(session)
            now = trio.current_time()
            deadline = min((due for _, due in self._unlock.values()), default=math.inf)
            for attempt in self._attempts.values():
                if attempt.state is _State.WAITING:
                    if attempt.retry_at <= now:
                        attempt.state = _State.READY
                    else:
                        deadline = min(deadline, attempt.retry_at)
            if self._silent:
                self._silent = {k: t for k, t in self._silent.items() if t > now - self._retry}
            if self._has_work(now):
                await self._round_trip(session, now)
                continue
            with trio.CancelScope(deadline=deadline) as idle:
                self._idle = idle
                try:
                    await session.wait()
                finally:
                    self._idle = None

    def _has_work(self, now: float) -> bool:
        return bool(
            self._announce
            or any(a.state is _State.READY for a in self._attempts.values())
            or any(lease.contended or due <= now for lease, due in self._unlock.values())
        )

    async def _round_trip(self, session: PgSession, now: float) -> None:
        statements: list[str] = []
        unlocks = [lease for lease, due in self._unlock.values() if lease.contended or due <= now]
        for lease in unlocks:
            del self._unlock[lease.key]
        notices = [f"r:{key}" for key in self._announce]
        self._announce.clear()
        for lease in unlocks:
            del self._held[lease.key]
            if lease.contended:
                notices.append(f"r:{lease.key}")
            else:
                self._silent[lease.key] = now
        if unlocks:
            keys = ",".join(str(lease.key) for lease in unlocks)
            statements.append(f"SELECT pg_advisory_unlock(k) FROM unnest('{{{keys}}}'::bigint[]) k")
        if notices:
            payloads = ",".join(notices)
            statements.append(
                f"SELECT pg_notify('{CHANNEL}', p) FROM unnest('{{{payloads}}}'::text[]) p"
            )
        tries = [a for a in self._attempts.values() if a.state is _State.READY]
        for attempt in tries:
            attempt.state = _State.SENT
        if tries:
            keys = ",".join(str(a.key) for a in tries)
            waited = ",".join("t" if a.waited else "f" for a in tries)
            # MATERIALIZED: each lock is tried exactly once, whatever the planner does.
            statements.append(
                "WITH a AS MATERIALIZED (SELECT x.n, x.k, x.w, pg_try_advisory_lock(x.k) AS l"
                f" FROM unnest('{{{keys}}}'::bigint[], '{{{waited}}}'::boolean[])"
                " WITH ORDINALITY AS x(k, w, n))"
                f" SELECT n, l, CASE WHEN l AND w THEN pg_notify('{CHANNEL}', 'g:' || k)"
                f" WHEN NOT l THEN pg_notify('{CHANNEL}', 'w:' || k) END FROM a ORDER BY n"
            )
            # A statement of its own, so its snapshot is taken after the locks: a version
            # written before the previous holder let go is seen.
            threads = ",".join(session.literal(a.thread_id) for a in tries)
            users = ",".join(session.literal(a.user_id) for a in tries)
            statements.append(
                "SELECT x.n, COALESCE((SELECT t.version FROM threads t"
                " WHERE t.id = x.t AND t.user_id = x.u), 0)"
                f" FROM unnest(ARRAY[{threads}]::text[], ARRAY[{users}]::text[])"
                " WITH ORDINALITY AS x(t, u, n) ORDER BY n"
            )
        results = await session.query(";".join(statements))
        self._counters.round_trips += 1
        expected = len(statements) - (1 if tries else 0)
        for index, result in enumerate(results[:expected]):
            if result.status != pq.ExecStatus.TUPLES_OK:
                message = result.get_error_message("utf-8")
                raise SessionLost(f"thread lock statement {index} failed: {message.strip()}")
        if len(results) < expected:
            raise SessionLost("thread lock statements were cut short")
        if tries:
            self._settle(tries, results[expected - 1], results[expected:])

    def _settle(
        self,
        tries: list[_Attempt],
        locked: pq.abc.PGresult,
        versions_result: list[pq.abc.PGresult],
    ) -> None:
        versions: list[int | None] = [None] * len(tries)
        if versions_result and versions_result[0].status == pq.ExecStatus.TUPLES_OK:
            for row in range(versions_result[0].ntuples):
                value = versions_result[0].get_value(row, 1)
                versions[row] = None if value is None else int(value)
        else:
            # Before the migration that adds the column, say: the memo starts afresh.
            _log.debug("thread versions unreadable: %s", versions_result)
        now = trio.current_time()
        for row, attempt in enumerate(tries):
            if locked.get_value(row, 1) != b"t":
                self._counters.failed_tries += 1
                attempt.waited = True
                attempt.state = _State.WAITING
                attempt.retry_at = now + self._retry
                continue
            self._counters.taken += 1
            del self._attempts[attempt.key]
            lease = ThreadLease(attempt.key, versions[row])
            self._held[attempt.key] = lease
            if attempt.abandoned:
                self._unlock[attempt.key] = (lease, now)
            attempt.lease = lease
            attempt.done.set()

    def _on_notifications(self, session: PgSession) -> None:
        own = session.backend_pid
        for notification in session.notifications():
            if notification.sender_pid == own or notification.channel != CHANNEL:
                continue
            kind, _, text = notification.payload.partition(":")
            try:
                key = int(text)
            except ValueError:
                continue
            if kind == "w":
                lease = self._held.get(key)
                if lease is not None:
                    if not lease.contended:
                        self._counters.contended += 1
                    lease.contended = True
                elif key in self._silent:
                    # Asked for just after we let go without a word: say it now.
                    self._announce.add(key)
            elif kind in ("r", "g"):
                attempt = self._attempts.get(key)
                if attempt is not None and attempt.state is _State.WAITING:
                    attempt.state = _State.READY

    def _lose_everything(self) -> None:
        self._counters.sessions_lost += 1
        for lease in self._held.values():
            lease._lose()
        self._held.clear()
        self._unlock.clear()
        self._announce.clear()
        self._silent.clear()
        # Takes under way are tried again on the next session, or fail if there is none.
        for attempt in self._attempts.values():
            attempt.state = _State.READY

    def _fail_attempts(self) -> None:
        for attempt in self._attempts.values():
            attempt.error = StoreUnavailable("database unavailable: no thread lock session")
            attempt.done.set()
        self._attempts.clear()


@asynccontextmanager
async def open_thread_locks(
    conninfo: str, *, retry: float = 1.0, connect_timeout: float = 3.0, linger: float = 0.1
) -> AsyncIterator[ThreadLocks]:
    """Run a process's thread locks on their own session to ``conninfo`` for the block.

    ``retry``: seconds between tries of a waiter that hears nothing. ``linger``: seconds a
    released lock is kept in case its thread has more work (given back at once when another
    process asks for it).

    The first connection is tried before the block starts; without a database the block
    still runs (takes fail with `StoreUnavailable`) and the session keeps reconnecting.
    Leaving the block ends the session, which frees every lock it holds.
    """
    locks = ThreadLocks(conninfo, retry=retry, connect_timeout=connect_timeout, linger=linger)
    async with running(locks._run):
        yield locks

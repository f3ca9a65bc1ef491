"""PostgresStore: chatkit's ``Store`` on PostgreSQL, isolated per user.

Queries run on a synchronous psycopg pool in worker threads (see ``robolearn._threads``), so
the same store serves trio code and asyncio code (chatkit's under robolearn's bridge, or
another server's on plain asyncio) without psycopg's async API.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from datetime import datetime
from typing import Any, Literal, Protocol, TypeVar

import attrs
import psycopg
import psycopg.errors
from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    FeedbackKind,
    Page,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
)
from psycopg_pool import ConnectionPool, PoolTimeout
from pydantic import BaseModel, TypeAdapter

from robolearn._threads import run_sync_in_thread
from robolearn.obs import Tracing

from ._errors import InvalidStoreInput, PayloadTooLarge, StoreFailed, StoreUnavailable
from ._health import DatabaseHealth
from ._migrations import apply_migrations
from ._session import SERVER_KEEPALIVES_SQL

__all__ = ["DownVotedAnswer", "PostgresStore", "StoreContext", "StoreLimits"]

_T = TypeVar("_T")
_Conn = psycopg.Connection[Any]

_log = logging.getLogger("robolearn.store")

_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.:\-]{0,127}")

# Errors after which a fresh connection may well succeed. Every store operation is idempotent
# (upserts, reads, deletes), so running it again cannot duplicate anything.
_TRANSIENT = (psycopg.OperationalError, psycopg.errors.SerializationFailure)
_ATTEMPTS = 3

_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)


class StoreContext(Protocol):
    """What the store needs from a request context: whose data it may touch."""

    @property
    def user_id(self) -> str: ...


@attrs.frozen(kw_only=True)
class StoreLimits:
    max_payload_bytes: int = 1 << 20
    max_page_size: int = 1000


@attrs.frozen(kw_only=True)
class DownVotedAnswer:
    """An assistant answer whose latest vote by ``user_id`` is negative, for reports."""

    thread_id: str
    item_id: str
    user_id: str
    voted_at: datetime
    answer: AssistantMessageItem
    # The last user message before the answer in its thread (None if there is none).
    question: UserMessageItem | None


@attrs.define(eq=False)
class PostgresStore(Store[StoreContext]):
    """A ``chatkit.store.Store`` over a psycopg connection pool.

    Every row belongs to one user. Another user's thread, item or attachment behaves as if it
    did not exist: loads raise ``NotFoundError``, listings come back empty, deletes do nothing.
    Listings are ordered by a per-row sequence taken at first insert, so saving an item again
    updates it in place and keeps its position.
    """

    _pool: ConnectionPool[Any]
    _timeout: float = 3.0
    limits: StoreLimits = attrs.field(factory=StoreLimits)
    tracing: Tracing = attrs.field(factory=Tracing)
    # While it knows the database is down, queries fail at once instead of waiting for the
    # pool; queries that fail as if it were gone make it look.
    health: DatabaseHealth | None = None
    _schema_ready: bool = attrs.field(default=False, init=False)
    _schema_lock: threading.Lock = attrs.field(factory=threading.Lock, init=False)

    # -- ids -----------------------------------------------------------------------------------

    def generate_thread_id(self, context: StoreContext) -> str:
        return _long_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: StoreContext
    ) -> str:
        return _long_id(item_type)

    def generate_attachment_id(self, mime_type: str, context: StoreContext) -> str:
        return _long_id("attachment")

    # -- threads -------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: StoreContext) -> ThreadMetadata:
        check_id("thread id", thread_id)

        def query(conn: _Conn) -> str | None:
            data: str | None = _scalar(
                conn,
                "SELECT data::text FROM threads WHERE id = %s AND user_id = %s",
                (thread_id, context.user_id),
            )
            return data

        data = await self._run(query)
        if data is None:
            raise NotFoundError(f"thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(data)

    async def save_thread(self, thread: ThreadMetadata, context: StoreContext) -> None:
        check_id("thread id", thread.id)
        # A full Thread carries its items; only the metadata belongs in this row.
        data = self._payload(ThreadMetadata.model_validate(thread, from_attributes=True))

        def query(conn: _Conn) -> bool:
            return _affected(
                conn,
                "INSERT INTO threads (id, user_id, data) VALUES (%s, %s, %s::jsonb)"
                " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = now(),"
                " version = threads.version + 1"
                " WHERE threads.user_id = EXCLUDED.user_id RETURNING 1",
                (thread.id, context.user_id, data),
            )

        if not await self._run(query):
            # The id is taken by another user's thread; saying so would leak its existence.
            raise NotFoundError(f"thread {thread.id} not found")

    async def merge_thread(
        self,
        thread_id: str,
        changes: Mapping[str, Any],
        expected: Mapping[str, Any] | None,
        context: StoreContext,
    ) -> ThreadMetadata:
        """Set ``changes`` (top-level fields, as JSON values) on the stored thread; returns it.

        With ``expected`` (the fields' values when the caller read the thread), a field
        that has changed since keeps its stored value: a running turn must not undo a
        rename made while it answered. Without it the changes are applied as they are.
        """
        check_id("thread id", thread_id)
        # One statement: the row lock, the comparison (as jsonb values) and the write are
        # one atomic step, and one round trip.
        sql = (
            b"UPDATE threads SET updated_at = now(), version = version + 1,"
            b" data = data || COALESCE(("
            b" SELECT jsonb_object_agg(change.key, change.value)"
            b" FROM jsonb_each(%(changes)s::jsonb) AS change"
            b" WHERE %(expected)s::jsonb IS NULL"
            b" OR threads.data -> change.key IS NOT DISTINCT FROM %(expected)s::jsonb -> change.key"
            b"), '{}'::jsonb)"
            b" WHERE id = %(id)s AND user_id = %(user)s RETURNING data::text"
        )
        params = {
            "changes": json.dumps(changes),
            "expected": None if expected is None else json.dumps(expected),
            "id": thread_id,
            "user": context.user_id,
        }

        def query(conn: _Conn) -> str | None:
            row = conn.execute(sql, params).fetchone()
            return None if row is None else str(row[0])

        data = await self._run(query)
        if data is None:
            raise NotFoundError(f"thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(data)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: StoreContext
    ) -> Page[ThreadMetadata]:
        direction = self._page_args(limit, after, order)

        def query(conn: _Conn) -> tuple[bool, list[tuple[str, str]]]:
            after_seq = None
            if after is not None:
                after_seq = _scalar(
                    conn,
                    "SELECT seq FROM threads WHERE id = %s AND user_id = %s",
                    (after, context.user_id),
                )
                if after_seq is None:
                    return False, []
            rows = conn.execute(
                f"SELECT id, data::text FROM threads WHERE user_id = %s"
                f" AND (%s::bigint IS NULL OR seq {direction.cmp} %s)"
                f" ORDER BY seq {direction.sql} LIMIT %s",
                (context.user_id, after_seq, after_seq, limit + 1),
            ).fetchall()
            return True, rows

        found, rows = await self._run(query)
        if not found:
            raise NotFoundError(f"thread {after} not found (used as pagination cursor)")
        return _page(rows, limit, ThreadMetadata.model_validate_json)

    async def count_threads(self, context: StoreContext) -> int:
        """How many threads the user has."""

        def query(conn: _Conn) -> int:
            return int(
                _scalar(conn, "SELECT count(*) FROM threads WHERE user_id = %s", (context.user_id,))
            )

        return await self._run(query)

    async def delete_thread(self, thread_id: str, context: StoreContext) -> None:
        """Delete the thread, its items, and the attachments only it used.

        An attachment goes with the thread when the thread's user messages carry it and none
        of the user's other threads' do: its bytes, and chatkit's row for it.
        """
        check_id("thread id", thread_id)
        params = {"thread": thread_id, "user": context.user_id}

        def query(conn: _Conn) -> None:
            conn.execute(_DELETE_THREAD, params)

        await self._run(query)

    # -- items ---------------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: StoreContext,
    ) -> Page[ThreadItem]:
        check_id("thread id", thread_id)
        direction = self._page_args(limit, after, order)

        def query(conn: _Conn) -> tuple[bool, list[tuple[str, str]]]:
            owned = conn.execute(
                "SELECT (SELECT seq FROM items WHERE thread_id = t.id AND id = %s)"
                " FROM threads t WHERE t.id = %s AND t.user_id = %s",
                (after, thread_id, context.user_id),
            ).fetchone()
            if owned is None:
                # Another user's (or no) thread: an empty page, as chatkit's store contract has
                # it. Requests check thread ownership first and answer "not found".
                return True, []
            after_seq = owned[0]
            if after is not None and after_seq is None:
                return False, []
            rows = conn.execute(
                f"SELECT id, data::text FROM items WHERE thread_id = %s"
                f" AND (%s::bigint IS NULL OR seq {direction.cmp} %s)"
                f" ORDER BY seq {direction.sql} LIMIT %s",
                (thread_id, after_seq, after_seq, limit + 1),
            ).fetchall()
            return True, rows

        found, rows = await self._run(query)
        if not found:
            raise NotFoundError(f"item {after} not found in thread {thread_id} (pagination cursor)")
        return _page(rows, limit, _ITEM.validate_json)

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: StoreContext
    ) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: StoreContext) -> None:
        check_id("thread id", thread_id)
        check_id("item id", item.id)
        data = self._payload(item)

        def query(conn: _Conn) -> bool:
            # The thread's version goes up in the same statement (see migration 0007).
            return _affected(
                conn,
                "WITH t AS (UPDATE threads SET version = version + 1"
                " WHERE id = %s AND user_id = %s RETURNING id)"
                " INSERT INTO items (thread_id, id, data) SELECT t.id, %s, %s::jsonb FROM t"
                " ON CONFLICT (thread_id, id)"
                " DO UPDATE SET data = EXCLUDED.data, updated_at = now() RETURNING 1",
                (thread_id, context.user_id, item.id, data),
            )

        if not await self._run(query):
            raise NotFoundError(f"thread {thread_id} not found")

    async def load_item(self, thread_id: str, item_id: str, context: StoreContext) -> ThreadItem:
        check_id("thread id", thread_id)
        check_id("item id", item_id)

        def query(conn: _Conn) -> str | None:
            data: str | None = _scalar(
                conn,
                "SELECT i.data::text FROM items i JOIN threads t ON t.id = i.thread_id"
                " WHERE i.thread_id = %s AND i.id = %s AND t.user_id = %s",
                (thread_id, item_id, context.user_id),
            )
            return data

        data = await self._run(query)
        if data is None:
            raise NotFoundError(f"item {item_id} not found in thread {thread_id}")
        return _ITEM.validate_json(data)

    async def delete_thread_item(self, thread_id: str, item_id: str, context: StoreContext) -> None:
        check_id("thread id", thread_id)
        check_id("item id", item_id)
        await self._execute(
            "WITH t AS (UPDATE threads SET version = version + 1"
            " WHERE id = %s AND user_id = %s RETURNING id)"
            " DELETE FROM items i USING t WHERE i.thread_id = t.id AND i.id = %s",
            (thread_id, context.user_id, item_id),
        )

    # -- attachments ---------------------------------------------------------------------------

    async def save_attachment(self, attachment: Attachment, context: StoreContext) -> None:
        check_id("attachment id", attachment.id)
        data = self._payload(attachment)

        def query(conn: _Conn) -> bool:
            return _affected(
                conn,
                "INSERT INTO attachments (id, user_id, data) VALUES (%s, %s, %s::jsonb)"
                " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data"
                " WHERE attachments.user_id = EXCLUDED.user_id RETURNING 1",
                (attachment.id, context.user_id, data),
            )

        if not await self._run(query):
            raise NotFoundError(f"attachment {attachment.id} not found")

    async def load_attachment(self, attachment_id: str, context: StoreContext) -> Attachment:
        check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> str | None:
            data: str | None = _scalar(
                conn,
                "SELECT data::text FROM attachments WHERE id = %s AND user_id = %s",
                (attachment_id, context.user_id),
            )
            return data

        data = await self._run(query)
        if data is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        return _ATTACHMENT.validate_json(data)

    async def delete_attachment(self, attachment_id: str, context: StoreContext) -> None:
        check_id("attachment id", attachment_id)
        await self._execute(
            "DELETE FROM attachments WHERE id = %s AND user_id = %s",
            (attachment_id, context.user_id),
        )

    # -- feedback ------------------------------------------------------------------------------

    async def save_feedback(
        self, thread_id: str, item_ids: Sequence[str], kind: FeedbackKind, context: StoreContext
    ) -> int:
        """Record the user's ``kind`` vote on each of ``item_ids``; returns how many were recorded.

        A user's latest vote on an item replaces the earlier one. Ids of items that are not in
        the thread are ignored; another user's (or no) thread raises ``NotFoundError``.
        """
        check_id("thread id", thread_id)
        for item_id in item_ids:
            check_id("item id", item_id)
        if kind not in ("positive", "negative"):
            raise InvalidStoreInput(f"feedback kind must be 'positive' or 'negative', got {kind!r}")
        # One statement, so one transaction: the thread's owner is checked where the votes are
        # written, and an item matches once however often its id is listed.
        sql = (
            b"WITH thread AS (SELECT id FROM threads WHERE id = %s AND user_id = %s),"
            b" voted AS ("
            b"  INSERT INTO feedback (item_id, user_id, thread_id, kind)"
            b"  SELECT i.id, %s, i.thread_id, %s FROM items i JOIN thread t ON t.id = i.thread_id"
            b"  WHERE i.id = ANY(%s)"
            b"  ON CONFLICT (item_id, user_id) DO UPDATE SET kind = EXCLUDED.kind,"
            b"   thread_id = EXCLUDED.thread_id, updated_at = now()"
            b"  RETURNING 1)"
            b" SELECT EXISTS (SELECT 1 FROM thread), (SELECT count(*) FROM voted)"
        )
        params = (thread_id, context.user_id, context.user_id, kind, list(item_ids))

        def query(conn: _Conn) -> tuple[bool, int]:
            try:
                row = conn.execute(sql, params).fetchone()
            except psycopg.errors.ForeignKeyViolation:
                # An item was deleted between finding it and voting on it: it is unknown now.
                row = conn.execute(sql, params).fetchone()
            assert row is not None
            return bool(row[0]), int(row[1])

        owned, recorded = await self._run(query)
        if not owned:
            raise NotFoundError(f"thread {thread_id} not found")
        return recorded

    async def load_down_voted_answers(self, since: datetime | None = None) -> list[DownVotedAnswer]:
        """Assistant answers whose latest vote is negative, voted at or after ``since``
        (aware datetime; None: all), newest vote first.

        An operator's report across every user (``robolearn feedback``): the one query not
        scoped to a requesting user, so never call it on a user's behalf.
        """
        if since is not None and since.utcoffset() is None:
            raise InvalidStoreInput("since must be a timezone-aware datetime")

        def query(conn: _Conn) -> list[tuple[str, str, str, datetime, str, str | None]]:
            return conn.execute(
                b"SELECT f.thread_id, f.item_id, f.user_id, f.updated_at, a.data::text,"
                b" (SELECT q.data::text FROM items q WHERE q.thread_id = a.thread_id"
                b"   AND q.seq < a.seq AND q.data->>'type' = 'user_message'"
                b"   ORDER BY q.seq DESC LIMIT 1)"
                b" FROM feedback f JOIN items a ON a.thread_id = f.thread_id AND a.id = f.item_id"
                b" WHERE f.kind = 'negative' AND a.data->>'type' = 'assistant_message'"
                b" AND (%s::timestamptz IS NULL OR f.updated_at >= %s)"
                b" ORDER BY f.updated_at DESC, a.seq DESC",
                (since, since),
            ).fetchall()

        return [
            DownVotedAnswer(
                thread_id=thread_id,
                item_id=item_id,
                user_id=user_id,
                voted_at=voted_at,
                answer=AssistantMessageItem.model_validate_json(answer),
                question=None
                if question is None
                else UserMessageItem.model_validate_json(question),
            )
            for thread_id, item_id, user_id, voted_at, answer, question in await self._run(query)
        ]

    # -- health --------------------------------------------------------------------------------

    async def check(self) -> None:
        """Raise :class:`StoreUnavailable` unless the database answers and the schema is current."""

        def query(conn: _Conn) -> None:
            conn.execute("SELECT 1")

        await self._run(query)

    async def migrate(self) -> None:
        """Apply pending migrations now (otherwise the first query does it)."""
        await self._run(lambda conn: None)

    async def run(self, fn: Callable[[_Conn], _T]) -> _T:
        """Run blocking ``fn(conn)`` on a pooled connection in a worker thread.

        For the other tables in this database (the textbook's): same pool, checkout timeout
        and schema migration as the store's own queries. Connections are in autocommit mode:
        wrap multi-statement work in ``conn.transaction()``. A transient error runs ``fn``
        again on a fresh connection, so ``fn`` must be safe to repeat. Raises
        :class:`StoreUnavailable` when the database cannot be reached.
        """
        return await self._run(fn)

    @property
    def conninfo(self) -> str:
        """The connection string of the database (an embedded server's, if ``open_store``
        started one), for sessions of their own (thread locks) and for worker processes."""
        conninfo = self._pool.conninfo
        # psycopg_pool takes a callable too; the store is always built with a string.
        return conninfo if isinstance(conninfo, str) else conninfo()

    def connect_dedicated(self, purpose: str) -> _Conn:
        """A connection of its own, outside the pool, to the same database with the same
        options: for session state such as advisory locks. Blocking; the caller closes it.
        ``purpose`` names it in ``pg_stat_activity``."""
        kwargs = self._pool.kwargs
        assert isinstance(kwargs, dict)  # as open_store sets them
        conn = psycopg.connect(
            self.conninfo, **{**kwargs, "application_name": f"robolearn {purpose}"}
        )
        try:
            conn.execute(SERVER_KEEPALIVES_SQL)
        except BaseException:
            conn.close()
            raise
        return conn

    def pool_stats(self) -> dict[str, float]:
        """The connection pool's counters (psycopg_pool's ``get_stats``), for metrics."""
        return {name: float(value) for name, value in self._pool.get_stats().items()}

    # -- plumbing ------------------------------------------------------------------------------

    async def _run(self, fn: Callable[[_Conn], _T]) -> _T:
        return await run_sync_in_thread(lambda: self._run_blocking(fn))

    def _run_blocking(self, fn: Callable[[_Conn], _T]) -> _T:
        if not self.tracing.enabled:  # the common case: no span, no name to work out
            return self._run_attempts(fn)
        operation = fn.__qualname__.split(".<locals>")[0].rsplit(".", 1)[-1]
        with self.tracing.span(f"db {operation}", **{"db.system": "postgresql"}):
            return self._run_attempts(fn)

    def _run_attempts(self, fn: Callable[[_Conn], _T]) -> _T:
        delay = 0.05
        health = self.health
        for attempt in range(1, _ATTEMPTS + 1):
            if health is not None:
                health.check()
            try:
                with self._pool.connection(timeout=self._timeout) as conn:
                    if not self._schema_ready:
                        self._ensure_schema(conn)
                    return fn(conn)
            except PoolTimeout as exc:
                if health is not None:
                    health.suspect()  # or only busy: the probe tells which
                raise StoreUnavailable("database unavailable: no connection") from exc
            except psycopg.errors.UntranslatableCharacter:
                # jsonb cannot hold NUL characters; only user text can carry one here. Not
                # chained: the driver's message quotes the data (a CONTEXT line).
                raise InvalidStoreInput("text contains a NUL character") from None
            except _TRANSIENT as exc:
                if health is not None and isinstance(exc, psycopg.OperationalError):
                    health.suspect()
                if attempt == _ATTEMPTS:
                    raise StoreUnavailable(f"database unavailable: {_described(exc)}") from None
                _log.warning("transient database error (attempt %d): %s", attempt, _described(exc))
                time.sleep(delay)
                delay *= 4
            except psycopg.DataError as exc:
                raise InvalidStoreInput(
                    f"the database refused the data: {_described(exc)}"
                ) from None
            except psycopg.Error as exc:
                # Logged and answered without the driver's message, which may quote user data.
                raise StoreFailed(_described(exc)) from None
        raise AssertionError("unreachable")

    def _ensure_schema(self, conn: _Conn) -> None:
        # Migrating lazily lets a server that booted without its database heal by itself.
        with self._schema_lock:
            if self._schema_ready:
                return
            apply_migrations(conn)
            conn.commit()
            self._schema_ready = True

    async def _execute(self, sql: str, params: tuple[object, ...]) -> None:
        def query(conn: _Conn) -> None:
            conn.execute(sql.encode(), params)

        await self._run(query)

    def _payload(self, value: BaseModel) -> str:
        data = value.model_dump_json()
        if len(data) > self.limits.max_payload_bytes:
            raise PayloadTooLarge(
                f"{type(value).__name__} {getattr(value, 'id', '')} is {len(data)} bytes;"
                f" the limit is {self.limits.max_payload_bytes}"
            )
        return data

    def _page_args(self, limit: int, after: str | None, order: str) -> _Direction:
        if not 1 <= limit <= self.limits.max_page_size:
            raise InvalidStoreInput(
                f"limit must be from 1 to {self.limits.max_page_size}, got {limit}"
            )
        if after is not None:
            check_id("after cursor", after)
        if order not in _DIRECTIONS:
            raise InvalidStoreInput(f"order must be 'asc' or 'desc', got {order!r}")
        return _DIRECTIONS[order]


# One statement, so one transaction. Every part sees the rows as they were before it (the
# thread's items are still there to be read; the items cascade with the thread).
_DELETE_THREAD = (
    b"WITH doomed AS ("
    b" DELETE FROM threads WHERE id = %(thread)s AND user_id = %(user)s RETURNING id),"
    b" used_here AS ("
    b" SELECT DISTINCT jsonb_path_query(i.data, '$.attachments[*].id') #>> '{}' AS id"
    b" FROM items i WHERE i.thread_id IN (SELECT id FROM doomed)"
    b" AND i.data->>'type' = 'user_message'),"
    b" only_here AS ("
    b" SELECT u.id FROM used_here u WHERE NOT EXISTS ("
    b" SELECT 1 FROM items i JOIN threads t ON t.id = i.thread_id"
    b" WHERE t.user_id = %(user)s AND t.id <> %(thread)s"
    b" AND i.data->>'type' = 'user_message'"
    b" AND i.data->'attachments' @> jsonb_build_array(jsonb_build_object('id', u.id)))),"
    b" bytes AS ("
    b" DELETE FROM attachment_blobs b USING only_here o"
    b" WHERE b.id = o.id AND b.user_id = %(user)s RETURNING 1),"
    b" metadata AS ("
    b" DELETE FROM attachments a USING only_here o"
    b" WHERE a.id = o.id AND a.user_id = %(user)s RETURNING 1)"
    b" SELECT (SELECT count(*) FROM bytes), (SELECT count(*) FROM metadata)"
)


@attrs.frozen
class _Direction:
    sql: Literal["ASC", "DESC"]
    cmp: Literal[">", "<"]


_DIRECTIONS = {"asc": _Direction("ASC", ">"), "desc": _Direction("DESC", "<")}


def _long_id(item_type: StoreItemType) -> str:
    # chatkit's default ids carry 8 hex digits and collide around 10^5 rows; keep its prefix.
    prefix = default_generate_id(item_type).rsplit("_", 1)[0]
    return f"{prefix}_{uuid.uuid4().hex}"


def check_id(what: str, value: object) -> None:
    """Raise :class:`InvalidStoreInput` unless ``value`` is a well-formed id."""
    if not isinstance(value, str) or not _ID.fullmatch(value):
        raise InvalidStoreInput(
            f"{what} must be 1-128 characters of letters, digits, '_', '-', '.', ':'"
            f" starting with a letter or digit; got {value!r:.80}"
        )


def _described(exc: psycopg.Error) -> str:
    """What a driver error was, without its message (it may quote the data)."""
    return f"{type(exc).__name__} (SQLSTATE {exc.sqlstate or 'none'})"


def _scalar(conn: _Conn, sql: str, params: tuple[object, ...]) -> Any:
    row = conn.execute(sql.encode(), params).fetchone()
    return None if row is None else row[0]


def _affected(conn: _Conn, sql: str, params: tuple[object, ...]) -> bool:
    return conn.execute(sql.encode(), params).fetchone() is not None


def _page(rows: list[tuple[str, str]], limit: int, parse: Callable[[str], _T]) -> Page[_T]:
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=[parse(data) for _, data in rows],
        has_more=has_more,
        after=rows[-1][0] if has_more else None,
    )

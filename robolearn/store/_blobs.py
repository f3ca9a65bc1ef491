"""Attachment bytes in PostgreSQL, owned per user like everything else.

A row is an upload slot from the moment an upload is announced (``attachments.create``) and
holds the bytes once they arrive, exactly as many as were announced, once. Slots count
against their user's quota from the start. A slot whose bytes have not arrived within
``slot_ttl`` seconds has expired: it no longer counts, takes no upload, and is deleted (with
chatkit's metadata row) by :meth:`BlobStore.sweep_expired`, which the user's next announce
and the server's periodic sweep both run.
"""

from __future__ import annotations

import logging

import anyio
import attrs

from ._errors import (
    InvalidStoreInput,
    LimitExceeded,
    NotFoundError,
    StoreUnavailable,
    UploadConflict,
)
from ._postgres import PostgresStore, StoreContext, _Conn, check_id

__all__ = ["Blob", "BlobLimits", "BlobStore", "UploadSlot"]

_log = logging.getLogger("robolearn.store")

# Announces of one user take this advisory lock (with the user's hash), so two of them at
# once cannot both fit in the room one of them leaves. Any constant works.
_QUOTA_LOCK = 0x0A77

# A slot is in use once a message carries its attachment: chatkit then saves the attachment
# with the message's thread id.
_IN_USE = (
    b"EXISTS (SELECT 1 FROM attachments a WHERE a.id = b.id AND a.user_id = b.user_id"
    b" AND a.data->>'thread_id' IS NOT NULL)"
)

_EXPIRED = b"b.data IS NULL AND b.created_at < now() - make_interval(secs => %(ttl)s)"

# Expired slots and their chatkit metadata rows, for one user or (user NULL) for everyone.
_SWEEP = (
    b"WITH expired AS (DELETE FROM attachment_blobs b WHERE "
    + _EXPIRED
    + b" AND (%(user)s::text IS NULL OR b.user_id = %(user)s) RETURNING b.id, b.user_id),"
    b" metadata AS ("
    b" DELETE FROM attachments a USING expired e WHERE a.id = e.id AND a.user_id = e.user_id"
    b" RETURNING 1)"
    b" SELECT count(*) FROM expired"
)


@attrs.frozen
class Blob:
    id: str
    mime_type: str
    data: bytes


@attrs.frozen(kw_only=True)
class BlobLimits:
    """Per-user quota (bytes uploaded or announced) and how long a slot waits for bytes."""

    bytes_per_user: int = 256 << 20
    slot_ttl: float = 3600.0


@attrs.frozen
class UploadSlot:
    """An announced attachment still waiting for its bytes."""

    id: str
    mime_type: str
    declared_size: int


@attrs.frozen
class BlobStore:
    """Upload slots and their bytes. Reads need the owner, or a link the server signed."""

    store: PostgresStore
    limits: BlobLimits = attrs.field(factory=BlobLimits)

    def __attrs_post_init__(self) -> None:
        _quiet_pool_log()

    async def announce(
        self, attachment_id: str, mime_type: str, size: int, context: StoreContext
    ) -> None:
        """Reserve an upload slot of ``size`` bytes (two-phase upload, phase one).

        Raises :class:`LimitExceeded` when the user's attachments, with this one, would take
        more than ``limits.bytes_per_user``. The user's expired slots are deleted first.
        """
        check_id("attachment id", attachment_id)
        params = {"user": context.user_id, "ttl": self.limits.slot_ttl}

        def query(conn: _Conn) -> int | None:
            with conn.transaction():
                conn.execute(
                    b"SELECT pg_advisory_xact_lock(%s, hashtext(%s))",
                    (_QUOTA_LOCK, context.user_id),
                )
                conn.execute(_SWEEP, params)
                row = conn.execute(
                    b"SELECT COALESCE(sum(COALESCE(octet_length(data), declared_size)), 0)"
                    b" FROM attachment_blobs WHERE user_id = %s",
                    (context.user_id,),
                ).fetchone()
                used = int(row[0]) if row is not None else 0
                if used + size > self.limits.bytes_per_user:
                    return used
                conn.execute(
                    b"INSERT INTO attachment_blobs (id, user_id, mime_type, declared_size)"
                    b" VALUES (%s, %s, %s, %s)",
                    (attachment_id, context.user_id, mime_type, size),
                )
                return None

        used = await self.store._run(query)
        if used is not None:
            quota = self.limits.bytes_per_user
            raise LimitExceeded(
                "attachment_quota_exceeded",
                f"attachments may take {quota} bytes per user: yours take {used} already and"
                f" this one needs {size} more; delete attachments or threads to make room",
            )

    async def open_slot(self, attachment_id: str, context: StoreContext) -> UploadSlot:
        """The user's slot for ``attachment_id``, if it can still take its bytes.

        Raises ``NotFoundError`` (not the user's, or expired) or :class:`UploadConflict`
        (the bytes arrived already; the attachment is used in a message).
        """
        check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> tuple[str, int, bool, bool, bool] | None:
            row = conn.execute(
                b"SELECT b.mime_type, b.declared_size, b.data IS NOT NULL, "
                + _IN_USE
                + b", b.created_at < now() - make_interval(secs => %(ttl)s)"
                b" FROM attachment_blobs b WHERE b.id = %(id)s AND b.user_id = %(user)s",
                {"id": attachment_id, "user": context.user_id, "ttl": self.limits.slot_ttl},
            ).fetchone()
            return None if row is None else (row[0], row[1], row[2], row[3], row[4])

        row = await self.store._run(query)
        if row is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        mime_type, declared_size, uploaded, in_use, old = row
        if in_use:
            raise UploadConflict(
                "attachment_in_use",
                f"attachment {attachment_id} is used in a message: its bytes cannot change",
            )
        if uploaded:
            raise UploadConflict(
                "already_uploaded",
                f"attachment {attachment_id} has its bytes already; announce a new attachment"
                " (attachments.create) for other bytes",
            )
        if old:
            raise NotFoundError(
                f"attachment {attachment_id} not found: its upload slot expired (the bytes must"
                f" arrive within {self.limits.slot_ttl:g} s of attachments.create)"
            )
        return UploadSlot(attachment_id, mime_type, declared_size)

    async def upload(self, attachment_id: str, data: bytes, context: StoreContext) -> str:
        """Store the bytes of an announced attachment, once; returns its MIME type.

        ``data`` must be exactly as long as announced. Whatever :meth:`open_slot` refuses is
        refused here too, in the same statement as the write: of two uploads racing for a
        slot, one wins and the other gets :class:`UploadConflict`.
        """
        check_id("attachment id", attachment_id)
        params = {
            "data": data,
            "size": len(data),
            "id": attachment_id,
            "user": context.user_id,
            "ttl": self.limits.slot_ttl,
        }

        def query(conn: _Conn) -> str | None:
            row = conn.execute(
                b"UPDATE attachment_blobs b SET data = %(data)s, uploaded_at = now()"
                b" WHERE b.id = %(id)s AND b.user_id = %(user)s AND b.data IS NULL"
                b" AND b.declared_size = %(size)s"
                b" AND b.created_at >= now() - make_interval(secs => %(ttl)s)"
                b" AND NOT " + _IN_USE + b" RETURNING b.mime_type",
                params,
            ).fetchone()
            _let_go_if_big(conn, len(data))
            return None if row is None else str(row[0])

        mime_type = await self.store._run(query)
        if mime_type is None:
            slot = await self.open_slot(attachment_id, context)  # raises what went wrong
            raise InvalidStoreInput(
                f"attachment {attachment_id} was announced with {slot.declared_size} bytes,"
                f" not {len(data)}"
            )
        return mime_type

    async def load(self, attachment_id: str, context: StoreContext) -> Blob:
        """The uploaded bytes, for their owner."""
        check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> tuple[str, bytes | None] | None:
            row = conn.execute(
                b"SELECT mime_type, data FROM attachment_blobs WHERE id = %s AND user_id = %s",
                (attachment_id, context.user_id),
                binary=True,
            ).fetchone()
            _let_go_if_big(conn, 0 if row is None or row[1] is None else len(row[1]))
            return None if row is None else (row[0], row[1])

        row = await self.store._run(query)
        if row is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        mime_type, data = row
        if data is None:
            raise NotFoundError(f"attachment {attachment_id} has not been uploaded yet")
        return Blob(attachment_id, mime_type, bytes(data))

    async def load_preview(self, attachment_id: str, thread_id: str | None) -> Blob:
        """The uploaded bytes, for a preview link the server signed for ``thread_id``.

        The link was checked already; what is left is that it still points at something:
        the attachment's bytes, and the thread it was shown in (when it was shown in one).
        """
        check_id("attachment id", attachment_id)
        if thread_id is not None:
            check_id("thread id", thread_id)

        def query(conn: _Conn) -> tuple[str, bytes] | None:
            row = conn.execute(
                b"SELECT b.mime_type, b.data FROM attachment_blobs b"
                b" WHERE b.id = %(id)s AND b.data IS NOT NULL AND (%(thread)s::text IS NULL"
                b" OR EXISTS (SELECT 1 FROM threads t"
                b" WHERE t.id = %(thread)s AND t.user_id = b.user_id))",
                {"id": attachment_id, "thread": thread_id},
                binary=True,
            ).fetchone()
            _let_go_if_big(conn, 0 if row is None else len(row[1]))
            return None if row is None else (row[0], row[1])

        row = await self.store._run(query)
        if row is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        return Blob(attachment_id, row[0], bytes(row[1]))

    async def check_uploaded(self, attachment_ids: list[str], context: StoreContext) -> None:
        """Raise unless each attachment is the caller's and its bytes have arrived."""
        for attachment_id in attachment_ids:
            check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> dict[str, bool]:
            rows = conn.execute(
                b"SELECT id, data IS NOT NULL FROM attachment_blobs"
                b" WHERE id = ANY(%s) AND user_id = %s",
                (attachment_ids, context.user_id),
            ).fetchall()
            return {row[0]: row[1] for row in rows}

        uploaded = await self.store._run(query) if attachment_ids else {}
        for attachment_id in attachment_ids:
            if attachment_id not in uploaded:
                raise NotFoundError(f"attachment {attachment_id} not found")
            if not uploaded[attachment_id]:
                raise InvalidStoreInput(f"attachment {attachment_id} has not been uploaded yet")

    async def delete(self, attachment_id: str, context: StoreContext) -> None:
        check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> None:
            conn.execute(
                b"DELETE FROM attachment_blobs WHERE id = %s AND user_id = %s",
                (attachment_id, context.user_id),
            )

        await self.store._run(query)

    async def sweep_expired(self, context: StoreContext | None = None) -> int:
        """Delete expired slots (of ``context``'s user, or of everyone); returns how many."""
        params = {"user": None if context is None else context.user_id, "ttl": self.limits.slot_ttl}

        def query(conn: _Conn) -> int:
            row = conn.execute(_SWEEP, params).fetchone()
            return 0 if row is None else int(row[0])

        return await self.store._run(query)

    async def sweep_periodically(self, every: float) -> None:
        """Run :meth:`sweep_expired` for everyone every ``every`` seconds, until cancelled.

        For users who never come back: a user's own announces sweep their slots anyway. A
        sweep that fails (database down) is logged, and the next one tries again.
        """
        while True:
            await anyio.sleep(every)
            try:
                swept = await self.sweep_expired()
            except StoreUnavailable as exc:
                _log.warning("expired upload slots not swept: %s", exc)
                continue
            if swept:
                _log.info("swept %d expired upload slots", swept)


# libpq grows a connection's buffers to the largest message it has carried and never shrinks
# them: ten pooled connections that each once moved a 10 MB attachment held 300 MB for good.
_BIG_TRANSFER = 1 << 20


_LET_GO = "_robolearn_let_go"


def _let_go_if_big(conn: _Conn, size: int) -> None:
    """Close ``conn`` after a big transfer: the pool opens a fresh one in its place."""
    if size >= _BIG_TRANSFER:
        setattr(conn, _LET_GO, True)
        conn.close()


class _QuietLetGo(logging.Filter):
    """Drops the pool's "discarding closed connection" warning for the ones closed on purpose
    (a closed connection is otherwise a sign of trouble worth a warning)."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args if isinstance(record.args, tuple) else ()
        return not (args and getattr(args[0], _LET_GO, False))


def _quiet_pool_log() -> None:
    pool_log = logging.getLogger("psycopg.pool")
    if not any(isinstance(existing, _QuietLetGo) for existing in pool_log.filters):
        pool_log.addFilter(_QuietLetGo())

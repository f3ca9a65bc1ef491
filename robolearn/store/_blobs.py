"""Attachment bytes in PostgreSQL, owned per user like everything else.

A row is an upload slot from the moment an upload is announced (``attachments.create``) and
holds the bytes once they arrive, exactly as many as were announced, once.
"""

from __future__ import annotations

import attrs

from ._errors import InvalidStoreInput, NotFoundError, UploadConflict
from ._postgres import PostgresStore, StoreContext, _Conn, check_id

__all__ = ["Blob", "BlobStore", "UploadSlot"]

# A slot is in use once a message carries its attachment: chatkit then saves the attachment
# with the message's thread id.
_IN_USE = (
    b"EXISTS (SELECT 1 FROM attachments a WHERE a.id = b.id AND a.user_id = b.user_id"
    b" AND a.data->>'thread_id' IS NOT NULL)"
)


@attrs.frozen
class Blob:
    id: str
    mime_type: str
    data: bytes


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

    async def announce(
        self, attachment_id: str, mime_type: str, size: int, context: StoreContext
    ) -> None:
        """Reserve an upload slot (two-phase upload, phase one)."""
        check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> None:
            conn.execute(
                b"INSERT INTO attachment_blobs (id, user_id, mime_type, declared_size)"
                b" VALUES (%s, %s, %s, %s)",
                (attachment_id, context.user_id, mime_type, size),
            )

        await self.store._run(query)

    async def open_slot(self, attachment_id: str, context: StoreContext) -> UploadSlot:
        """The user's slot for ``attachment_id``, if it can still take its bytes.

        Raises ``NotFoundError`` (not the user's) or :class:`UploadConflict`
        (the bytes arrived already; the attachment is used in a message).
        """
        check_id("attachment id", attachment_id)

        def query(conn: _Conn) -> tuple[str, int, bool, bool] | None:
            row = conn.execute(
                b"SELECT b.mime_type, b.declared_size, b.data IS NOT NULL, "
                + _IN_USE
                + b" FROM attachment_blobs b WHERE b.id = %(id)s AND b.user_id = %(user)s",
                {"id": attachment_id, "user": context.user_id},
            ).fetchone()
            return None if row is None else (row[0], row[1], row[2], row[3])

        row = await self.store._run(query)
        if row is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        mime_type, declared_size, uploaded, in_use = row
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
        }

        def query(conn: _Conn) -> str | None:
            row = conn.execute(
                b"UPDATE attachment_blobs b SET data = %(data)s, uploaded_at = now()"
                b" WHERE b.id = %(id)s AND b.user_id = %(user)s AND b.data IS NULL"
                b" AND b.declared_size = %(size)s"
                b" AND NOT " + _IN_USE + b" RETURNING b.mime_type",
                params,
            ).fetchone()
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
            ).fetchone()
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
            ).fetchone()
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

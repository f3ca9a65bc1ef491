"""A minimal asyncio PostgreSQL store for the baseline: psycopg's async pool, the same tables,
migrations and SQL as ``robolearn.store.PostgresStore``, nothing else (no retries, no limits).
"""

from __future__ import annotations

import uuid
from typing import Any

from chatkit.store import NotFoundError, Store, StoreItemType, default_generate_id
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata
from psycopg_pool import AsyncConnectionPool
from pydantic import TypeAdapter

__all__ = ["AsyncPostgresStore", "Context"]

Context = dict[str, Any]  # {"user_id": ...}

_ITEM = TypeAdapter[ThreadItem](ThreadItem)
_ATTACHMENT = TypeAdapter[Attachment](Attachment)
_ORDER = {"asc": ("ASC", ">"), "desc": ("DESC", "<")}


def _long_id(item_type: StoreItemType) -> str:
    # chatkit's 8-hex-digit ids collide around 10^5 rows; a benchmark makes that many.
    prefix = default_generate_id(item_type).rsplit("_", 1)[0]
    return f"{prefix}_{uuid.uuid4().hex}"


def _page(rows: list[tuple[Any, ...]], limit: int, parse: Any) -> Page[Any]:
    has_more = len(rows) > limit
    rows = rows[:limit]
    return Page(
        data=[parse(data) for _, data in rows],
        has_more=has_more,
        after=rows[-1][0] if has_more else None,
    )


class AsyncPostgresStore(Store[Context]):
    def __init__(self, pool: AsyncConnectionPool[Any]) -> None:
        self.pool = pool

    def generate_thread_id(self, context: Context) -> str:
        return _long_id("thread")

    def generate_item_id(
        self, item_type: StoreItemType, thread: ThreadMetadata, context: Context
    ) -> str:
        return _long_id(item_type)

    def generate_attachment_id(self, mime_type: str, context: Context) -> str:
        return _long_id("attachment")

    async def _one(self, sql: str, params: tuple[object, ...]) -> Any:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql.encode(), params)
            return await cur.fetchone()

    async def _all(self, sql: str, params: tuple[object, ...]) -> list[tuple[Any, ...]]:
        async with self.pool.connection() as conn:
            cur = await conn.execute(sql.encode(), params)
            rows: list[tuple[Any, ...]] = await cur.fetchall()
            return rows

    async def load_thread(self, thread_id: str, context: Context) -> ThreadMetadata:
        row = await self._one(
            "SELECT data::text FROM threads WHERE id = %s AND user_id = %s",
            (thread_id, context["user_id"]),
        )
        if row is None:
            raise NotFoundError(f"thread {thread_id} not found")
        return ThreadMetadata.model_validate_json(row[0])

    async def save_thread(self, thread: ThreadMetadata, context: Context) -> None:
        data = ThreadMetadata.model_validate(thread, from_attributes=True).model_dump_json()
        row = await self._one(
            "INSERT INTO threads (id, user_id, data) VALUES (%s, %s, %s::jsonb)"
            " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data, updated_at = now()"
            " WHERE threads.user_id = EXCLUDED.user_id RETURNING 1",
            (thread.id, context["user_id"], data),
        )
        if row is None:
            raise NotFoundError(f"thread {thread.id} not found")

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: Context
    ) -> Page[ThreadMetadata]:
        sql_order, cmp = _ORDER[order]
        after_seq = None
        if after is not None:
            row = await self._one(
                "SELECT seq FROM threads WHERE id = %s AND user_id = %s",
                (after, context["user_id"]),
            )
            if row is None:
                raise NotFoundError(f"thread {after} not found")
            after_seq = row[0]
        rows = await self._all(
            f"SELECT id, data::text FROM threads WHERE user_id = %s"
            f" AND (%s::bigint IS NULL OR seq {cmp} %s) ORDER BY seq {sql_order} LIMIT %s",
            (context["user_id"], after_seq, after_seq, limit + 1),
        )
        return _page(rows, limit, ThreadMetadata.model_validate_json)

    async def delete_thread(self, thread_id: str, context: Context) -> None:
        await self._one(
            "DELETE FROM threads WHERE id = %s AND user_id = %s RETURNING 1",
            (thread_id, context["user_id"]),
        )

    async def load_thread_items(
        self, thread_id: str, after: str | None, limit: int, order: str, context: Context
    ) -> Page[ThreadItem]:
        sql_order, cmp = _ORDER[order]
        owned = await self._one(
            "SELECT (SELECT seq FROM items WHERE thread_id = t.id AND id = %s)"
            " FROM threads t WHERE t.id = %s AND t.user_id = %s",
            (after, thread_id, context["user_id"]),
        )
        if owned is None:
            return Page(data=[], has_more=False, after=None)
        after_seq = owned[0]
        if after is not None and after_seq is None:
            raise NotFoundError(f"item {after} not found")
        rows = await self._all(
            f"SELECT id, data::text FROM items WHERE thread_id = %s"
            f" AND (%s::bigint IS NULL OR seq {cmp} %s) ORDER BY seq {sql_order} LIMIT %s",
            (thread_id, after_seq, after_seq, limit + 1),
        )
        return _page(rows, limit, _ITEM.validate_json)

    async def add_thread_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        await self.save_item(thread_id, item, context)

    async def save_item(self, thread_id: str, item: ThreadItem, context: Context) -> None:
        row = await self._one(
            "INSERT INTO items (thread_id, id, data)"
            " SELECT t.id, %s, %s::jsonb FROM threads t WHERE t.id = %s AND t.user_id = %s"
            " ON CONFLICT (thread_id, id)"
            " DO UPDATE SET data = EXCLUDED.data, updated_at = now() RETURNING 1",
            (item.id, item.model_dump_json(), thread_id, context["user_id"]),
        )
        if row is None:
            raise NotFoundError(f"thread {thread_id} not found")

    async def load_item(self, thread_id: str, item_id: str, context: Context) -> ThreadItem:
        row = await self._one(
            "SELECT i.data::text FROM items i JOIN threads t ON t.id = i.thread_id"
            " WHERE i.thread_id = %s AND i.id = %s AND t.user_id = %s",
            (thread_id, item_id, context["user_id"]),
        )
        if row is None:
            raise NotFoundError(f"item {item_id} not found")
        return _ITEM.validate_json(row[0])

    async def delete_thread_item(self, thread_id: str, item_id: str, context: Context) -> None:
        await self._one(
            "DELETE FROM items i USING threads t WHERE i.thread_id = t.id"
            " AND i.thread_id = %s AND i.id = %s AND t.user_id = %s RETURNING 1",
            (thread_id, item_id, context["user_id"]),
        )

    async def save_attachment(self, attachment: Attachment, context: Context) -> None:
        await self._one(
            "INSERT INTO attachments (id, user_id, data) VALUES (%s, %s, %s::jsonb)"
            " ON CONFLICT (id) DO UPDATE SET data = EXCLUDED.data"
            " WHERE attachments.user_id = EXCLUDED.user_id RETURNING 1",
            (attachment.id, context["user_id"], attachment.model_dump_json()),
        )

    async def load_attachment(self, attachment_id: str, context: Context) -> Attachment:
        row = await self._one(
            "SELECT data::text FROM attachments WHERE id = %s AND user_id = %s",
            (attachment_id, context["user_id"]),
        )
        if row is None:
            raise NotFoundError(f"attachment {attachment_id} not found")
        return _ATTACHMENT.validate_json(row[0])

    async def delete_attachment(self, attachment_id: str, context: Context) -> None:
        await self._one(
            "DELETE FROM attachments WHERE id = %s AND user_id = %s RETURNING 1",
            (attachment_id, context["user_id"]),
        )

"""Runs on both sides of the bridge: chatkit calls the store from asyncio during a stream,
the thread actors and ``answer`` from trio (plain store calls, safe on either).

The store chatkit is given: a thread's turns are served from their actor's memo
(`ThreadMemo`), every other request goes straight to the database.

Only a turn's context (`TurnContext`) carries a memo; reads that bypass the actors
(``items.list``, ``threads.get_by_id``...) come with a plain `RequestContext` and always go
to the database, which every write has already reached.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol, runtime_checkable

from chatkit.store import Store
from chatkit.types import Attachment, Page, ThreadItem, ThreadMetadata, UserMessageItem

from ._context import RequestContext
from ._memo import ThreadMemo
from ._turn_context import TurnContext

__all__ = ["MemoStore", "ThreadMerging"]


@runtime_checkable
class ThreadMerging(Protocol):
    """What `MemoStore` needs of its store besides chatkit's ``Store``."""

    async def merge_thread(
        self,
        thread_id: str,
        changes: Mapping[str, Any],
        expected: Mapping[str, Any] | None,
        context: RequestContext,
    ) -> ThreadMetadata: ...


def _fields(thread: ThreadMetadata) -> dict[str, Any]:
    # A full Thread carries its items; only the metadata is the thread's row.
    return ThreadMetadata.model_validate(thread, from_attributes=True).model_dump(mode="json")


class MemoStore(Store[RequestContext]):
    """A store that serves a thread's actor from its memo and writes through to ``inner``.

    Every write updates the memo only after the database confirmed it; a write that fails or
    is cancelled (its outcome unknown) makes the memo forget everything, so the next read
    asks the database again. Writes that create (the new thread, a user message) are noted
    in the turn's `Receipts` before they start, and a new thread gets the id its turn was
    given. All of that only for a `TurnContext`; any other context goes straight through.
    """

    def __init__(self, inner: Store[RequestContext]) -> None:
        if not isinstance(inner, ThreadMerging):
            raise TypeError("MemoStore needs a store with merge_thread (PostgresStore has it)")
        self._inner = inner
        self._merging = inner

    def _memo(self, thread_id: str, context: RequestContext) -> ThreadMemo | None:
        if not isinstance(context, TurnContext):
            return None
        memo = context.memo
        return memo if memo is not None and memo.thread_id == thread_id else None

    async def _write(
        self, memo: ThreadMemo | None, write: Awaitable[None], update: Callable[[ThreadMemo], None]
    ) -> None:
        try:
            await write
        except BaseException:
            # Failed, or cancelled while the database may have applied it: the outcome is
            # unknown, so the memo knows nothing any more.
            if memo is not None:
                memo.forget()
            raise
        if memo is not None:
            memo.wrote()
            update(memo)

    # -- ids ------------------------------------------------------------------------------------

    def generate_thread_id(self, context: RequestContext) -> str:
        # threads.create's turn: the id was chosen before the request reached the actor.
        if isinstance(context, TurnContext) and context.new_thread_id is not None:
            return context.new_thread_id
        return self._inner.generate_thread_id(context)

    def generate_item_id(
        self, item_type: str, thread: ThreadMetadata, context: RequestContext
    ) -> str:
        return self._inner.generate_item_id(item_type, thread, context)  # type: ignore[arg-type]

    # -- threads --------------------------------------------------------------------------------

    async def load_thread(self, thread_id: str, context: RequestContext) -> ThreadMetadata:
        memo = self._memo(thread_id, context)
        if memo is not None and memo.thread is not None:
            # A copy: chatkit edits the thread it loads (title, metadata) before saving it.
            return memo.thread.model_copy(deep=True)
        thread = await self._inner.load_thread(thread_id, context)
        if memo is not None:
            memo.thread = thread.model_copy(deep=True)
        return thread

    async def save_thread(self, thread: ThreadMetadata, context: RequestContext) -> None:
        if (
            isinstance(context, TurnContext)
            and context.receipts is not None
            and thread.id == context.new_thread_id
        ):
            context.receipts.writing(thread)
        memo = self._memo(thread.id, context)
        base = memo.thread if memo is not None else None
        if base is None:
            # A new thread, or a request outside a turn: the thread as it is.
            await self._write(
                memo, self._inner.save_thread(thread, context), lambda m: m.saved_thread(thread)
            )
            return
        # Within a turn, only what the turn changed, and only where nobody else changed it
        # meanwhile: a rename (which does not wait for the turn) must survive the turn.
        old, new = _fields(base), _fields(thread)
        changes = {name: value for name, value in new.items() if old.get(name) != value}
        if not changes:
            return
        merged: list[ThreadMetadata] = []

        async def merge() -> None:
            merged.append(
                await self._merging.merge_thread(
                    thread.id, changes, {name: old.get(name) for name in changes}, context
                )
            )

        await self._write(memo, merge(), lambda m: m.saved_thread(merged[0]))
        # The turn goes on with (and reports, in thread.updated) the thread as stored.
        for name in ThreadMetadata.model_fields:
            stored = getattr(merged[0], name)
            if getattr(thread, name) != stored:
                setattr(thread, name, stored)

    async def delete_thread(self, thread_id: str, context: RequestContext) -> None:
        memo = self._memo(thread_id, context)
        await self._write(memo, self._inner.delete_thread(thread_id, context), ThreadMemo.forget)

    async def load_threads(
        self, limit: int, after: str | None, order: str, context: RequestContext
    ) -> Page[ThreadMetadata]:
        return await self._inner.load_threads(limit, after, order, context)

    # -- items ----------------------------------------------------------------------------------

    async def load_thread_items(
        self,
        thread_id: str,
        after: str | None,
        limit: int,
        order: str,
        context: RequestContext,
    ) -> Page[ThreadItem]:
        # Only the newest-first page from the start is what a memo knows.
        memo = self._memo(thread_id, context) if after is None and order == "desc" else None
        if memo is not None:
            page = memo.newest(limit)
            if page is not None:
                return page
        page = await self._inner.load_thread_items(thread_id, after, limit, order, context)
        if memo is not None:
            memo.remember_newest(page)
        return page

    async def add_thread_item(
        self, thread_id: str, item: ThreadItem, context: RequestContext
    ) -> None:
        if (
            isinstance(context, TurnContext)
            and context.receipts is not None
            and isinstance(item, UserMessageItem)
        ):
            context.receipts.writing(item)
        memo = self._memo(thread_id, context)
        await self._write(
            memo,
            self._inner.add_thread_item(thread_id, item, context),
            lambda m: m.saved(item, new=True),
        )

    async def save_item(self, thread_id: str, item: ThreadItem, context: RequestContext) -> None:
        memo = self._memo(thread_id, context)
        await self._write(
            memo,
            self._inner.save_item(thread_id, item, context),
            lambda m: m.saved(item, new=False),
        )

    async def load_item(self, thread_id: str, item_id: str, context: RequestContext) -> ThreadItem:
        return await self._inner.load_item(thread_id, item_id, context)

    async def delete_thread_item(
        self, thread_id: str, item_id: str, context: RequestContext
    ) -> None:
        memo = self._memo(thread_id, context)
        await self._write(
            memo,
            self._inner.delete_thread_item(thread_id, item_id, context),
            lambda m: m.deleted(item_id),
        )

    # -- attachments (not thread state: straight through) --------------------------------------

    async def save_attachment(self, attachment: Attachment, context: RequestContext) -> None:
        await self._inner.save_attachment(attachment, context)

    async def load_attachment(self, attachment_id: str, context: RequestContext) -> Attachment:
        return await self._inner.load_attachment(attachment_id, context)

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self._inner.delete_attachment(attachment_id, context)

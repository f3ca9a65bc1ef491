"""What a thread's actor remembers of its thread between turns.

A thread's actor is the only writer of its thread (every request that changes a thread goes
through it, and across processes it works under the thread's lock), so it can keep the
thread's metadata and newest items in memory: a follow-up message then costs one database
write before its first event instead of three reads and a write. The memo is write-through
and belongs to one actor incarnation: passivation, a crash or a restart drop it, and the
database stays the truth. Whenever the actor (re)takes the thread's lock, the thread's
version tells whether anyone else wrote the thread since; if so the memo starts afresh.

The store that reads and writes through it is `MemoStore` (``_memo_store``).
"""

from __future__ import annotations

import attrs
from chatkit.types import Page, ThreadItem, ThreadMetadata

__all__ = ["ThreadMemo"]

# Newest items kept: the tutor's history window (10) plus the turn's own, with room to spare.
_MAX_ITEMS = 64


@attrs.define
class ThreadMemo:
    """One thread's metadata and newest items, as its actor last read or wrote them.

    ``items`` are oldest first and are the newest ``len(items)`` items of the thread;
    ``whole`` says they are all of them. ``None`` means not known (never read, or forgotten
    after a write whose outcome is unknown).
    """

    thread_id: str
    thread: ThreadMetadata | None = None
    items: list[ThreadItem] | None = None
    whole: bool = False
    # The thread's version (migration 0007) as of what is remembered: read when the thread's
    # lock was taken, then counted up by each of this actor's writes (each adds one). None:
    # unknown.
    version: int | None = None

    def forget(self) -> None:
        self.thread = None
        self.items = None
        self.whole = False
        self.version = None

    def check(self, version: int | None) -> None:
        """The thread's lock was (re)taken and the thread is at ``version``: forget what
        is remembered unless nobody else wrote the thread since (another process's turn, a
        rename through any process)."""
        if version is None or version != self.version:
            self.forget()
        self.version = version

    def wrote(self) -> None:
        """This actor's write to the thread was confirmed: the version went up by one."""
        if self.version is not None:
            self.version += 1

    def newest(self, limit: int) -> Page[ThreadItem] | None:
        """The page ``load_thread_items(after=None, limit, "desc")`` returns, if known."""
        items = self.items
        if items is None or (limit > len(items) and not self.whole):
            return None
        data = items[::-1][:limit]
        has_more = len(items) > limit or (len(items) == limit and not self.whole)
        # Unvalidated: the items were validated when saved, and checking them again on each
        # turn cost more than the rest of this lookup.
        return Page[ThreadItem].model_construct(
            data=data, has_more=has_more, after=data[-1].id if has_more else None
        )

    def remember_newest(self, page: Page[ThreadItem]) -> None:
        self.items = page.data[::-1]
        self.whole = not page.has_more

    def saved_thread(self, thread: ThreadMetadata) -> None:
        # A full Thread carries its items; only the metadata is the thread's row.
        self.thread = ThreadMetadata.model_validate(thread, from_attributes=True).model_copy(
            deep=True
        )

    def saved(self, item: ThreadItem, *, new: bool) -> None:
        """``item`` was written: ``new`` for ``add_thread_item`` (a new item goes last)."""
        if self.items is None:
            return
        # A copy: chatkit goes on using the object it saved.
        copy = item.model_copy(deep=True)
        for n, known in enumerate(self.items):
            if known.id == item.id:
                self.items[n] = copy  # an upsert keeps the item's place
                return
        if not new and not self.whole:
            # An update of an item older than the window, or a new one: no telling where.
            self.items = None
            return
        self.items.append(copy)
        if len(self.items) > _MAX_ITEMS:
            del self.items[0]
            self.whole = False

    def deleted(self, item_id: str) -> None:
        if self.items is not None:
            self.items = [item for item in self.items if item.id != item_id]

"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

Give every item a model streams its own store id.

Chat Completions models (and scripted ones) reuse one id for every message (``__fake_id__``),
and chatkit's stream conversion passes model ids through: without this, each answer would
overwrite the previous one in the store.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator, Callable

from chatkit.types import (
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemRemovedEvent,
    ThreadItemReplacedEvent,
    ThreadItemUpdatedEvent,
    ThreadStreamEvent,
)

__all__ = ["FreshItemIds", "with_fresh_item_ids"]


class FreshItemIds:
    """Rewrites each added item's id to a freshly minted one, and every later event about it.

    A model id seen again after its item was done starts a new item with a new store id.
    Called per event, in stream order.
    """

    def __init__(self, mint: Callable[[], str]) -> None:
        self._mint = mint
        self._live: dict[str, str] = {}

    def __call__(self, event: ThreadStreamEvent) -> ThreadStreamEvent:
        live = self._live
        match event:
            case ThreadItemAddedEvent(item=item):
                live[item.id] = self._mint()
                return ThreadItemAddedEvent(item=item.model_copy(update={"id": live[item.id]}))
            case ThreadItemUpdatedEvent(item_id=item_id) if item_id in live:
                return event.model_copy(update={"item_id": live[item_id]})
            case ThreadItemDoneEvent(item=item) if item.id in live:
                return ThreadItemDoneEvent(item=item.model_copy(update={"id": live.pop(item.id)}))
            case ThreadItemReplacedEvent(item=item) if item.id in live:
                return ThreadItemReplacedEvent(item=item.model_copy(update={"id": live[item.id]}))
            case ThreadItemRemovedEvent(item_id=item_id) if item_id in live:
                return ThreadItemRemovedEvent(item_id=live.pop(item_id))
        return event


async def with_fresh_item_ids(
    events: AsyncIterator[ThreadStreamEvent], mint: Callable[[], str]
) -> AsyncGenerator[ThreadStreamEvent, None]:
    """``events`` through `FreshItemIds`."""
    fresh = FreshItemIds(mint)
    async for event in events:
        yield fresh(event)

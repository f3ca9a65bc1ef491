"""Give every item a model streams its own store id.

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

__all__ = ["with_fresh_item_ids"]


async def with_fresh_item_ids(
    events: AsyncIterator[ThreadStreamEvent], mint: Callable[[], str]
) -> AsyncGenerator[ThreadStreamEvent, None]:
    """Rewrite each added item's id to a freshly minted one, and every later event about it.

    A model id seen again after its item was done starts a new item with a new store id.
    """
    live: dict[str, str] = {}
    async for event in events:
        match event:
            case ThreadItemAddedEvent(item=item):
                live[item.id] = mint()
                event = ThreadItemAddedEvent(item=item.model_copy(update={"id": live[item.id]}))
            case ThreadItemUpdatedEvent(item_id=item_id) if item_id in live:
                event = event.model_copy(update={"item_id": live[item_id]})
            case ThreadItemDoneEvent(item=item) if item.id in live:
                event = ThreadItemDoneEvent(item=item.model_copy(update={"id": live.pop(item.id)}))
            case ThreadItemReplacedEvent(item=item) if item.id in live:
                event = ThreadItemReplacedEvent(item=item.model_copy(update={"id": live[item.id]}))
            case ThreadItemRemovedEvent(item_id=item_id) if item_id in live:
                event = ThreadItemRemovedEvent(item_id=live.pop(item_id))
        yield event

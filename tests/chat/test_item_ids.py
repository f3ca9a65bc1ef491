"""Answers never overwrite each other, updates to finished items are saved, and chatkit's
per-turn machinery is the lean one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import datetime
from itertools import count

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageContentPartDone,
    AssistantMessageContentPartTextDelta,
    AssistantMessageItem,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
)

from robolearn.chat import RequestContext, RoboLearnChatKitServer, ScriptedTokensModel
from robolearn.chat._ids import with_fresh_item_ids
from robolearn.chat._server import _AgentContext
from robolearn.store import PostgresStore

ALICE = RequestContext(user_id="alice")


def _answer(item_id: str, text: str = "") -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        thread_id="thr_1",
        created_at=datetime.now(),
        content=[AssistantMessageContent(text=text)] if text else [],
    )


async def _events(*events: ThreadStreamEvent) -> AsyncIterator[ThreadStreamEvent]:
    for event in events:
        yield event


async def test_reused_model_ids_get_fresh_store_ids() -> None:
    fake = "__fake_id__"
    numbers = count()
    stream = _events(
        ThreadItemAddedEvent(item=_answer(fake)),
        ThreadItemUpdatedEvent(
            item_id=fake,
            update=AssistantMessageContentPartTextDelta(content_index=0, delta="one"),
        ),
        ThreadItemDoneEvent(item=_answer(fake, "one")),
        ThreadItemAddedEvent(item=_answer(fake)),
        ThreadItemDoneEvent(item=_answer(fake, "two")),
    )
    out = [e async for e in with_fresh_item_ids(stream, lambda: f"msg_{next(numbers)}")]
    ids = [e.item.id if hasattr(e, "item") else e.item_id for e in out]  # type: ignore[union-attr]
    assert ids == ["msg_0", "msg_0", "msg_0", "msg_1", "msg_1"]


async def test_updates_after_done_are_persisted(store: PostgresStore) -> None:
    server = RoboLearnChatKitServer(store, model=ScriptedTokensModel())  # type: ignore[arg-type]
    thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
    await store.save_thread(thread, ALICE)
    done = _answer("msg_a", "draft")
    await store.add_thread_item("thr_1", done, ALICE)
    stream = _events(
        ThreadItemDoneEvent(item=done),
        ThreadItemUpdatedEvent(
            item_id="msg_a",
            update=AssistantMessageContentPartDone(
                content_index=0, content=AssistantMessageContent(text="final")
            ),
        ),
    )
    out = [e async for e in server._persist_late_updates(stream, thread, ALICE)]
    assert len(out) == 2  # passed through unchanged
    saved = await store.load_item("thr_1", "msg_a", ALICE)
    assert saved.content[0].text == "final"  # type: ignore[union-attr]
    assert done.content[0].text == "draft"  # the event sent to the reader is left alone


def test_each_turn_context_has_its_own_empty_event_queue() -> None:
    def make() -> _AgentContext:
        thread = ThreadMetadata(id="thr_1", created_at=datetime.now())
        context = RequestContext(user_id="alice")
        return _AgentContext(thread=thread, store=None, request_context=context)  # type: ignore[arg-type]

    first, second = make(), make()
    first._events.put_nowait("event")
    assert second._events is not first._events
    assert second._events.empty()
    assert first._events.get_nowait() == "event"

"""The chatkit Store contract on PostgresStore beyond chatkit's own store suite (which runs in
test_chatkit_suite.py): deletes, descending cursors, thread listing order, attachment
isolation, cursor edge cases."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    ImageAttachment,
    ThreadMetadata,
)
from pydantic import AnyUrl

from robolearn.store import NotFoundError, PostgresStore

from ._factories import ALICE, mixed_items, thread, user_message

# -- threads ---------------------------------------------------------------------------------


async def test_thread_round_trips_exactly(store: PostgresStore) -> None:
    meta = thread()
    await store.save_thread(meta, ALICE)
    assert await store.load_thread(meta.id, ALICE) == meta


async def test_thread_with_null_title(store: PostgresStore) -> None:
    meta = ThreadMetadata(id="thr_x", title=None, created_at=datetime.now(), metadata={"a": 1})
    await store.save_thread(meta, ALICE)
    loaded = await store.load_thread("thr_x", ALICE)
    assert loaded.title is None
    assert loaded.metadata == {"a": 1}


async def test_save_thread_updates_in_place(store: PostgresStore) -> None:
    first, second = thread("thr_1"), thread("thr_2")
    await store.save_thread(first, ALICE)
    await store.save_thread(second, ALICE)
    first.title = "Updated Title"
    await store.save_thread(first, ALICE)
    assert (await store.load_thread("thr_1", ALICE)).title == "Updated Title"
    page = await store.load_threads(10, None, "asc", ALICE)
    assert [t.id for t in page.data] == ["thr_1", "thr_2"]  # position kept


async def test_load_missing_thread(store: PostgresStore) -> None:
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_missing", ALICE)


async def test_load_threads_pages_both_ways(store: PostgresStore) -> None:
    now = datetime.now()
    for n in range(1, 4):
        await store.save_thread(thread(f"thread{n}", now + timedelta(seconds=n)), ALICE)

    page1 = await store.load_threads(2, None, "asc", ALICE)
    assert [t.id for t in page1.data] == ["thread1", "thread2"]
    assert page1.has_more is True
    assert page1.after == "thread2"
    page2 = await store.load_threads(2, page1.after, "asc", ALICE)
    assert [t.id for t in page2.data] == ["thread3"]
    assert page2.has_more is False
    assert page2.after is None

    desc1 = await store.load_threads(2, None, "desc", ALICE)
    assert [t.id for t in desc1.data] == ["thread3", "thread2"]
    assert desc1.after == "thread2"
    desc2 = await store.load_threads(2, desc1.after, "desc", ALICE)
    assert [t.id for t in desc2.data] == ["thread1"]
    assert desc2.has_more is False


async def test_load_threads_exact_page_size_has_no_more(store: PostgresStore) -> None:
    for n in range(3):
        await store.save_thread(thread(f"thr_{n}"), ALICE)
    page = await store.load_threads(3, None, "asc", ALICE)
    assert len(page.data) == 3
    assert page.has_more is False
    assert page.after is None


async def test_load_threads_empty(store: PostgresStore) -> None:
    page = await store.load_threads(10, None, "desc", ALICE)
    assert page.data == []
    assert page.has_more is False


async def test_load_threads_unknown_cursor(store: PostgresStore) -> None:
    await store.save_thread(thread("thr_1"), ALICE)
    with pytest.raises(NotFoundError):
        await store.load_threads(10, "thr_gone", "asc", ALICE)


async def test_threads_with_tied_created_at_keep_insert_order(store: PostgresStore) -> None:
    at = datetime(2026, 1, 1)
    ids = [f"thr_{n:02d}" for n in range(12)]
    for thread_id in ids:
        await store.save_thread(thread(thread_id, at), ALICE)
    seen: list[str] = []
    after = None
    while True:
        page = await store.load_threads(5, after, "asc", ALICE)
        seen += [t.id for t in page.data]
        if not page.has_more:
            break
        after = page.after
    assert seen == ids


async def test_delete_thread_deletes_its_items(store: PostgresStore) -> None:
    await store.save_thread(thread("thr_1"), ALICE)
    await store.add_thread_item("thr_1", user_message("msg_1", thread_id="thr_1"), ALICE)
    await store.delete_thread("thr_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_1", "msg_1", ALICE)
    # Re-creating the id starts empty: nothing of the old thread survived.
    await store.save_thread(thread("thr_1"), ALICE)
    assert (await store.load_thread_items("thr_1", None, 10, "asc", ALICE)).data == []


async def test_delete_missing_thread_is_a_no_op(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    await store.delete_thread("thr_missing", ALICE)  # no error
    assert (await store.load_thread(thread().id, ALICE)).id == thread().id


# -- items -----------------------------------------------------------------------------------


async def test_items_round_trip_whole(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    items = mixed_items()
    for item in items:
        await store.add_thread_item("thr_test", item, ALICE)
    assert (await store.load_thread_items("thr_test", None, 10, "asc", ALICE)).data == items


async def test_items_order_and_cursor(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    now = datetime.now()
    for n in range(5):
        await store.add_thread_item("thr_test", user_message(f"msg{n}", at=now), ALICE)

    asc = await store.load_thread_items("thr_test", None, 5, "asc", ALICE)
    assert [i.id for i in asc.data] == [f"msg{n}" for n in range(5)]
    desc = await store.load_thread_items("thr_test", None, 5, "desc", ALICE)
    assert [i.id for i in desc.data] == [f"msg{n}" for n in reversed(range(5))]

    after = await store.load_thread_items("thr_test", "msg1", 3, "asc", ALICE)
    assert [i.id for i in after.data] == ["msg2", "msg3", "msg4"]
    assert after.has_more is False
    assert after.after is None

    first = await store.load_thread_items("thr_test", None, 2, "asc", ALICE)
    assert [i.id for i in first.data] == ["msg0", "msg1"]
    assert first.has_more is True
    assert first.after == "msg1"

    before = await store.load_thread_items("thr_test", "msg3", 2, "desc", ALICE)
    assert [i.id for i in before.data] == ["msg2", "msg1"]
    assert before.has_more is True
    assert before.after == "msg1"
    last = await store.load_thread_items("thr_test", "msg0", 2, "desc", ALICE)
    assert last.data == []
    assert last.has_more is False


async def test_items_unknown_cursor(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    await store.add_thread_item("thr_test", user_message("msg0"), ALICE)
    with pytest.raises(NotFoundError):
        await store.load_thread_items("thr_test", "msg_gone", 10, "asc", ALICE)


async def test_items_of_empty_and_missing_thread(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    assert (await store.load_thread_items("thr_test", None, 10, "asc", ALICE)).data == []
    assert (await store.load_thread_items("thr_none", None, 10, "asc", ALICE)).data == []


async def test_save_item_twice_keeps_one_row_and_its_position(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    answer = AssistantMessageItem(
        id="msg_a", content=[], thread_id="thr_test", created_at=datetime.now()
    )
    await store.add_thread_item("thr_test", answer, ALICE)
    await store.add_thread_item("thr_test", user_message("msg_b"), ALICE)

    answer.content = [AssistantMessageContent(text="This is an assistant message.")]
    await store.save_item("thr_test", answer, ALICE)
    await store.add_thread_item("thr_test", answer, ALICE)

    page = await store.load_thread_items("thr_test", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_a", "msg_b"]
    loaded = await store.load_item("thr_test", "msg_a", ALICE)
    assert isinstance(loaded, AssistantMessageItem)
    assert loaded.content == [AssistantMessageContent(text="This is an assistant message.")]


async def test_items_are_stored_under_the_thread_argument(store: PostgresStore) -> None:
    await store.save_thread(thread("thr_a"), ALICE)
    await store.save_thread(thread("thr_b"), ALICE)
    # The same item id in two threads is two items.
    await store.add_thread_item("thr_a", user_message("msg_1", "A", "thr_a"), ALICE)
    await store.add_thread_item("thr_b", user_message("msg_1", "B", "thr_b"), ALICE)
    a = await store.load_item("thr_a", "msg_1", ALICE)
    b = await store.load_item("thr_b", "msg_1", ALICE)
    assert a.content[0].text == "A"  # type: ignore[union-attr]
    assert b.content[0].text == "B"  # type: ignore[union-attr]


async def test_add_item_to_missing_thread(store: PostgresStore) -> None:
    with pytest.raises(NotFoundError):
        await store.add_thread_item("thr_none", user_message("msg_1"), ALICE)


async def test_load_missing_item(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_test", "does_not_exist", ALICE)


async def test_delete_item(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    for n in range(3):
        await store.add_thread_item("thr_test", user_message(f"msg{n}"), ALICE)
    await store.delete_thread_item("thr_test", "msg1", ALICE)
    await store.delete_thread_item("thr_test", "msg1", ALICE)  # idempotent
    page = await store.load_thread_items("thr_test", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg0", "msg2"]


# -- attachments -----------------------------------------------------------------------------


async def test_attachments_round_trip_and_delete(store: PostgresStore) -> None:
    file = FileAttachment(id="atc_1", type="file", mime_type="text/plain", name="test.txt")
    image = ImageAttachment(
        id="atc_2",
        type="image",
        mime_type="image/png",
        name="test.png",
        preview_url=AnyUrl("https://example.com/test.png"),
        metadata={"source": "test"},
    )
    for attachment in (file, image):
        await store.save_attachment(attachment, ALICE)
    assert await store.load_attachment("atc_1", ALICE) == file
    assert await store.load_attachment("atc_2", ALICE) == image

    renamed = file.model_copy(update={"name": "renamed.txt"})
    await store.save_attachment(renamed, ALICE)
    assert (await store.load_attachment("atc_1", ALICE)).name == "renamed.txt"

    await store.delete_attachment("atc_1", ALICE)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_1", ALICE)
    await store.delete_attachment("atc_1", ALICE)


# -- ids -------------------------------------------------------------------------------------


async def test_generated_ids_keep_prefixes_and_are_long(store: PostgresStore) -> None:
    meta = thread()
    thread_id = store.generate_thread_id(ALICE)
    assert thread_id.startswith("thr_")
    assert len(thread_id) >= 4 + 32
    assert store.generate_item_id("message", meta, ALICE).startswith("msg_")
    assert store.generate_item_id("tool_call", meta, ALICE).startswith("tc_")
    assert store.generate_item_id("task", meta, ALICE).startswith("tsk_")
    assert store.generate_item_id("workflow", meta, ALICE).startswith("wf_")
    assert store.generate_attachment_id("image/png", ALICE).startswith("atc_")
    ids = {store.generate_item_id("message", meta, ALICE) for _ in range(10_000)}
    assert len(ids) == 10_000

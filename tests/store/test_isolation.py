"""One user's rows are invisible to another through every Store method."""

from __future__ import annotations

import pytest
from chatkit.types import FileAttachment

from robolearn.store import NotFoundError, PostgresStore

from ._factories import ALICE, BOB, mixed_items, thread, user_message


@pytest.fixture
async def alices(store: PostgresStore) -> PostgresStore:
    await store.save_thread(thread("thr_alice"), ALICE)
    for item in mixed_items("thr_alice"):
        await store.add_thread_item("thr_alice", item, ALICE)
    await store.save_attachment(
        FileAttachment(id="atc_alice", type="file", mime_type="text/plain", name="a.txt"), ALICE
    )
    return store


async def _alice_unchanged(store: PostgresStore) -> None:
    assert (await store.load_thread("thr_alice", ALICE)).title == "Test Thread"
    page = await store.load_thread_items("thr_alice", None, 10, "asc", ALICE)
    assert [i.id for i in page.data] == ["msg_100000", "msg_000001", "widget_1"]
    assert page.data[0].content[0].text == "Hello!"  # type: ignore[union-attr]
    assert (await store.load_attachment("atc_alice", ALICE)).name == "a.txt"


async def test_reads_see_nothing(alices: PostgresStore) -> None:
    store = alices
    with pytest.raises(NotFoundError):
        await store.load_thread("thr_alice", BOB)
    assert (await store.load_threads(10, None, "asc", BOB)).data == []
    assert (await store.load_thread_items("thr_alice", None, 10, "asc", BOB)).data == []
    with pytest.raises(NotFoundError):
        await store.load_item("thr_alice", "msg_100000", BOB)
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_alice", BOB)
    with pytest.raises(NotFoundError):  # a cursor from someone else's listing is unknown
        await store.load_threads(10, "thr_alice", "asc", BOB)


async def test_writes_cannot_touch(alices: PostgresStore) -> None:
    store = alices
    hijack = thread("thr_alice")
    hijack.title = "stolen"
    with pytest.raises(NotFoundError):
        await store.save_thread(hijack, BOB)
    with pytest.raises(NotFoundError):
        await store.add_thread_item(
            "thr_alice", user_message("msg_bob", thread_id="thr_alice"), BOB
        )
    with pytest.raises(NotFoundError):
        await store.save_item("thr_alice", user_message("msg_100000", "x", "thr_alice"), BOB)
    with pytest.raises(NotFoundError):
        await store.save_attachment(
            FileAttachment(id="atc_alice", type="file", mime_type="text/plain", name="b"), BOB
        )
    await store.delete_thread_item("thr_alice", "msg_100000", BOB)
    await store.delete_thread("thr_alice", BOB)
    await store.delete_attachment("atc_alice", BOB)

    await _alice_unchanged(store)
    with pytest.raises(NotFoundError):
        await store.load_item("thr_alice", "msg_bob", ALICE)


async def test_each_user_lists_only_their_threads(store: PostgresStore) -> None:
    for n in range(3):
        await store.save_thread(thread(f"thr_a{n}"), ALICE)
        await store.save_thread(thread(f"thr_b{n}"), BOB)
    alice = await store.load_threads(10, None, "asc", ALICE)
    bob = await store.load_threads(10, None, "desc", BOB)
    assert [t.id for t in alice.data] == ["thr_a0", "thr_a1", "thr_a2"]
    assert [t.id for t in bob.data] == ["thr_b2", "thr_b1", "thr_b0"]

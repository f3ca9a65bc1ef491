"""MemoStore: a thread actor's memo answers exactly what the database would, or asks it; a
turn's state reaches the store through its TurnContext, and only a turn's."""

from __future__ import annotations

import random
from typing import Any

import pytest
from chatkit.store import NotFoundError

from robolearn.chat import MemoStore, RequestContext, ThreadMemo, TurnContext
from robolearn.chat._receipts import Receipts
from robolearn.store import PostgresStore

from ..store._factories import thread, user_message

THREAD = "thr_memo"


class CountingStore:
    """The real store, counting the calls that reach it and failing writes on demand."""

    def __init__(self, inner: PostgresStore) -> None:
        self.inner = inner
        self.calls: list[str] = []
        self.fail_writes = False

    def __getattr__(self, name: str) -> Any:
        method = getattr(self.inner, name)

        async def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            if self.fail_writes and name.startswith(("save", "add", "delete")):
                raise RuntimeError("database went away")
            return await method(*args, **kwargs)

        return call if name.startswith(("load", "save", "add", "delete")) else method


def _stores(store: PostgresStore) -> tuple[MemoStore, CountingStore, TurnContext]:
    counting = CountingStore(store)
    memo_store = MemoStore(counting)  # type: ignore[arg-type]
    context = TurnContext.of(RequestContext(user_id="alice"), memo=ThreadMemo(THREAD))
    return memo_store, counting, context


async def _truth(store: PostgresStore, limit: int) -> Any:
    page = await store.load_thread_items(
        THREAD, None, limit, "desc", RequestContext(user_id="alice")
    )
    return [item.model_dump() for item in page.data], page.has_more, page.after


async def test_a_random_conversation_reads_the_same_from_the_memo_as_from_the_database(
    store: PostgresStore,
) -> None:
    memo_store, counting, context = _stores(store)
    await memo_store.save_thread(thread(THREAD), context)
    rng = random.Random(7)
    ids: list[str] = []
    served_from_memo = 0
    for step in range(300):
        action = rng.random()
        if action < 0.4 or not ids:
            item_id = f"msg_{step:06d}"
            ids.append(item_id)
            await memo_store.add_thread_item(
                THREAD, user_message(item_id, thread_id=THREAD), context
            )
        elif action < 0.5:
            # An upsert of an existing item keeps its place.
            item_id = rng.choice(ids)
            edited = user_message(item_id, text=f"edit {step}", thread_id=THREAD)
            await memo_store.save_item(THREAD, edited, context)
        elif action < 0.6:
            item_id = rng.choice(ids)
            ids.remove(item_id)
            await memo_store.delete_thread_item(THREAD, item_id, context)
        else:
            limit = rng.choice([1, 5, 11, 30, 100])
            before = len(counting.calls)
            page = await memo_store.load_thread_items(THREAD, None, limit, "desc", context)
            served_from_memo += len(counting.calls) == before
            got = [item.model_dump() for item in page.data], page.has_more, page.after
            assert got == await _truth(store, limit), f"step {step}, limit {limit}"
    # It must actually be serving reads, or this test proves nothing.
    assert served_from_memo > 50


async def test_the_thread_comes_from_the_memo_and_edits_to_a_copy_do_not_leak(
    store: PostgresStore,
) -> None:
    memo_store, counting, context = _stores(store)
    await memo_store.save_thread(thread(THREAD), context)
    loaded = await memo_store.load_thread(THREAD, context)
    assert "load_thread" not in counting.calls
    loaded.title = "edited but never saved"
    again = await memo_store.load_thread(THREAD, context)
    assert again.title == "Test Thread"
    again.title = "saved"
    await memo_store.save_thread(again, context)
    assert (await memo_store.load_thread(THREAD, context)).title == "saved"
    assert (await store.load_thread(THREAD, RequestContext(user_id="alice"))).title == "saved"


async def test_a_failed_write_makes_the_memo_forget(store: PostgresStore) -> None:
    memo_store, counting, context = _stores(store)
    await memo_store.save_thread(thread(THREAD), context)
    await memo_store.add_thread_item(THREAD, user_message("msg_1", thread_id=THREAD), context)
    await memo_store.load_thread_items(THREAD, None, 10, "desc", context)
    counting.fail_writes = True
    with pytest.raises(RuntimeError):
        await memo_store.add_thread_item(THREAD, user_message("msg_2", thread_id=THREAD), context)
    counting.fail_writes = False
    counting.calls.clear()
    await memo_store.load_thread(THREAD, context)
    await memo_store.load_thread_items(THREAD, None, 10, "desc", context)
    assert counting.calls == ["load_thread", "load_thread_items"]


async def test_other_threads_and_requests_without_a_memo_go_to_the_database(
    store: PostgresStore,
) -> None:
    memo_store, counting, context = _stores(store)
    await memo_store.save_thread(thread(THREAD), context)
    await memo_store.save_thread(thread("thr_other"), context)
    counting.calls.clear()
    await memo_store.load_thread("thr_other", context)
    await memo_store.load_thread(THREAD, RequestContext(user_id="alice"))
    assert counting.calls == ["load_thread", "load_thread"]


async def test_a_deleted_thread_is_forgotten(store: PostgresStore) -> None:
    memo_store, _, context = _stores(store)
    await memo_store.save_thread(thread(THREAD), context)
    await memo_store.delete_thread(THREAD, context)
    with pytest.raises(NotFoundError):
        await memo_store.load_thread(THREAD, context)


async def _version(store: PostgresStore) -> int:
    def query(conn: Any) -> int:
        row = conn.execute("SELECT version FROM threads WHERE id = %s", (THREAD,)).fetchone()
        return 0 if row is None else int(row[0])

    return await store.run(query)


async def test_the_memo_counts_its_own_writes_as_the_database_does(store: PostgresStore) -> None:
    """A lone writer's memo keeps the version the database has: taking the thread's lock again
    finds nothing changed and keeps the memo."""
    memo_store, _, context = _stores(store)
    memo = context.memo
    assert memo is not None
    memo.check(await _version(store))  # the lock taken before the thread exists
    await memo_store.save_thread(thread(THREAD), context)
    await memo_store.add_thread_item(THREAD, user_message("msg_1", thread_id=THREAD), context)
    await memo_store.load_thread_items(THREAD, None, 10, "desc", context)
    edited = user_message("msg_1", text="edited", thread_id=THREAD)
    await memo_store.save_item(THREAD, edited, context)
    renamed = await memo_store.load_thread(THREAD, context)
    renamed.title = "by the turn"
    await memo_store.save_thread(renamed, context)  # a merge
    await memo_store.save_thread(renamed, context)  # no change: no write
    await memo_store.add_thread_item(THREAD, user_message("msg_2", thread_id=THREAD), context)
    await memo_store.delete_thread_item(THREAD, "msg_2", context)
    await memo_store.delete_thread_item(THREAD, "msg_unknown", context)
    assert memo.version == await _version(store) == 7
    memo.check(await _version(store))
    assert memo.items is not None and memo.thread is not None


async def test_a_write_by_someone_else_makes_the_memo_start_afresh(store: PostgresStore) -> None:
    memo_store, counting, context = _stores(store)
    memo = context.memo
    assert memo is not None
    memo.check(0)
    await memo_store.save_thread(thread(THREAD), context)
    await memo_store.load_thread_items(THREAD, None, 10, "desc", context)
    # Another process's turn, while this one did not hold the thread's lock.
    await store.add_thread_item(THREAD, user_message("msg_x", thread_id=THREAD), context)
    memo.check(await _version(store))
    counting.calls.clear()
    page = await memo_store.load_thread_items(THREAD, None, 10, "desc", context)
    assert [item.id for item in page.data] == ["msg_x"]
    assert counting.calls == ["load_thread_items"]


async def test_a_turn_that_creates_a_thread_gives_it_the_id_chosen_and_notes_its_writes(
    store: PostgresStore,
) -> None:
    memo_store = MemoStore(store)
    request = RequestContext(user_id="alice", request_id="req_1")
    receipts = Receipts()
    turn = TurnContext.of(request, receipts=receipts, new_thread_id="thr_chosen")
    assert (turn.user_id, turn.request_id) == ("alice", "req_1")
    assert memo_store.generate_thread_id(turn) == "thr_chosen"
    await memo_store.save_thread(thread("thr_chosen"), turn)
    await memo_store.add_thread_item(
        "thr_chosen", user_message("msg_1", thread_id="thr_chosen"), turn
    )
    assert [record.id for record in receipts.owed] == ["thr_chosen", "msg_1"]
    # Any other request gets an id of its own; a new turn takes the request, not the state.
    assert memo_store.generate_thread_id(request) not in ("thr_chosen", "")
    again = TurnContext.of(turn)
    assert (again.receipts, again.new_thread_id, again.user_id) == (None, None, "alice")

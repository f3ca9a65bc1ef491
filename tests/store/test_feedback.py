"""Votes on answers: a user's latest vote per item, only on their own threads, reported by time."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from chatkit.types import AssistantMessageContent, AssistantMessageItem

from robolearn.store import InvalidStoreInput, NotFoundError, PostgresStore

from ._factories import ALICE, BOB, thread, user_message


def answer(item_id: str, text: str, thread_id: str = "thr_test") -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id,
        content=[AssistantMessageContent(text=text)],
        thread_id=thread_id,
        created_at=datetime.now(),
    )


async def votes(store: PostgresStore) -> list[tuple[Any, ...]]:
    """Every stored vote as (item id, user id, thread id, kind)."""

    def query(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
        return conn.execute(
            "SELECT item_id, user_id, thread_id, kind FROM feedback ORDER BY item_id"
        ).fetchall()

    return await store.run(query)


async def set_voted_at(store: PostgresStore, item_id: str, at: datetime) -> None:
    """Back-date a vote: the report's time filter is tested without waiting for the clock."""
    await store.run(
        lambda conn: conn.execute(
            "UPDATE feedback SET updated_at = %s WHERE item_id = %s", (at, item_id)
        )
    )


@pytest.fixture
async def conversation(store: PostgresStore) -> PostgresStore:
    """Alice's thread: a question and its answer, twice; Bob's thread: one of each."""
    await store.save_thread(thread("thr_test"), ALICE)
    await store.add_thread_item("thr_test", user_message("msg_q1", "What is a node?"), ALICE)
    await store.add_thread_item("thr_test", answer("msg_a1", "A node is a process."), ALICE)
    await store.add_thread_item("thr_test", user_message("msg_q2", "And a topic?"), ALICE)
    await store.add_thread_item("thr_test", answer("msg_a2", "A named bus."), ALICE)
    await store.save_thread(thread("thr_bob"), BOB)
    await store.add_thread_item("thr_bob", user_message("msg_bq", "Hi", "thr_bob"), BOB)
    await store.add_thread_item("thr_bob", answer("msg_ba", "Hello", "thr_bob"), BOB)
    return store


async def test_a_users_latest_vote_counts(conversation: PostgresStore) -> None:
    store = conversation
    assert await store.save_feedback("thr_test", ["msg_a1"], "positive", ALICE) == 1
    assert await store.load_down_voted_answers() == []
    assert await store.save_feedback("thr_test", ["msg_a1"], "negative", ALICE) == 1
    assert await votes(store) == [("msg_a1", "alice", "thr_test", "negative")]
    [down] = await store.load_down_voted_answers()
    assert (down.thread_id, down.item_id, down.user_id) == ("thr_test", "msg_a1", "alice")
    assert down.answer.content[0].text == "A node is a process."
    assert down.question is not None
    assert down.question.id == "msg_q1"
    assert down.voted_at.tzinfo is not None

    assert await store.save_feedback("thr_test", ["msg_a1"], "positive", ALICE) == 1
    assert await votes(store) == [("msg_a1", "alice", "thr_test", "positive")]
    assert await store.load_down_voted_answers() == []


async def test_unknown_and_repeated_item_ids_are_ignored(conversation: PostgresStore) -> None:
    store = conversation
    recorded = await store.save_feedback(
        "thr_test", ["msg_a2", "msg_nope", "msg_a2", "msg_ba"], "negative", ALICE
    )
    assert recorded == 1
    assert await votes(store) == [("msg_a2", "alice", "thr_test", "negative")]
    [down] = await store.load_down_voted_answers()
    # The question is the user message just before this answer, not the thread's first.
    assert down.question is not None and down.question.id == "msg_q2"
    assert await store.save_feedback("thr_test", [], "negative", ALICE) == 0


async def test_another_users_thread_records_nothing(conversation: PostgresStore) -> None:
    store = conversation
    with pytest.raises(NotFoundError):
        await store.save_feedback("thr_test", ["msg_a1"], "negative", BOB)
    with pytest.raises(NotFoundError):
        await store.save_feedback("thr_missing", ["msg_a1"], "negative", ALICE)
    assert await votes(store) == []


async def test_malformed_input_is_refused(conversation: PostgresStore) -> None:
    store = conversation
    with pytest.raises(InvalidStoreInput):
        await store.save_feedback("thr_test", ["msg a1"], "negative", ALICE)
    with pytest.raises(InvalidStoreInput):
        await store.save_feedback("thr_test", ["msg_a1"], "meh", ALICE)  # type: ignore[arg-type]
    with pytest.raises(InvalidStoreInput):
        await store.load_down_voted_answers(datetime(2024, 1, 1))
    assert await votes(store) == []


async def test_report_lists_answers_voted_since_newest_first(conversation: PostgresStore) -> None:
    store = conversation
    await store.save_feedback("thr_test", ["msg_a1", "msg_a2", "msg_q1"], "negative", ALICE)
    await store.save_feedback("thr_bob", ["msg_ba"], "negative", BOB)
    await set_voted_at(store, "msg_a1", datetime(2024, 3, 1, tzinfo=UTC))
    await set_voted_at(store, "msg_a2", datetime(2024, 1, 1, tzinfo=UTC))
    await set_voted_at(store, "msg_ba", datetime(2024, 2, 1, tzinfo=UTC))

    # Every user's answers; a down-voted user message is not an answer.
    everything = await store.load_down_voted_answers()
    assert [d.item_id for d in everything] == ["msg_a1", "msg_ba", "msg_a2"]
    assert [d.user_id for d in everything] == ["alice", "bob", "alice"]
    assert everything[1].voted_at == datetime(2024, 2, 1, tzinfo=UTC)
    since = await store.load_down_voted_answers(datetime(2024, 2, 1, tzinfo=UTC))
    assert [d.item_id for d in since] == ["msg_a1", "msg_ba"]
    assert await store.load_down_voted_answers(datetime(2024, 3, 2, tzinfo=UTC)) == []


async def test_votes_go_with_their_items(conversation: PostgresStore) -> None:
    store = conversation
    await store.save_feedback("thr_test", ["msg_a1", "msg_a2"], "negative", ALICE)
    await store.delete_thread_item("thr_test", "msg_a1", ALICE)
    assert [v[0] for v in await votes(store)] == ["msg_a2"]
    await store.delete_thread("thr_test", ALICE)
    assert await votes(store) == []

"""``items.feedback`` through the real ``/chatkit``: votes are stored, counted and isolated."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any

import psycopg
import pytest
from chatkit.types import ItemFeedbackParams, ItemsFeedbackReq
from prometheus_client.parser import text_string_to_metric_families

from robolearn.chat import RequestContext
from robolearn.services import Services
from robolearn.store import NotFoundError

from .conftest import ChatKit, user_input


async def feedback_counts(client: ChatKit) -> dict[str, float]:
    """``robolearn_feedback_total`` by kind, as ``/metrics`` shows it."""
    text = (await client.http.get("/metrics")).text
    return {
        sample.labels["kind"]: sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "robolearn_feedback_total"
    }


async def stored_votes(services: Services) -> list[tuple[Any, ...]]:
    def query(conn: psycopg.Connection[Any]) -> list[tuple[Any, ...]]:
        return conn.execute("SELECT thread_id, item_id, user_id, kind FROM feedback").fetchall()

    return await services.store.run(query)


async def test_the_latest_vote_is_stored_once_and_counted(
    alice: ChatKit, services: Services
) -> None:
    assert await feedback_counts(alice) == {"positive": 0, "negative": 0}
    events = await alice.stream("threads.create", input=user_input("What is a node?"))
    thread_id, answer_id = events[0]["thread"]["id"], events[-1]["item"]["id"]
    assert events[-1]["item"]["type"] == "assistant_message"

    for kind in ("positive", "negative"):
        response = await alice.call(
            "items.feedback", thread_id=thread_id, item_ids=[answer_id], kind=kind
        )
        assert response.status_code == 200, response.text
        assert response.json() == {}

    assert await stored_votes(services) == [(thread_id, answer_id, "alice", "negative")]
    [down] = await services.store.load_down_voted_answers()
    assert down.answer.content[0].text.startswith("answer to: What is a node?")
    assert await feedback_counts(alice) == {"positive": 1, "negative": 1}


async def test_unknown_items_are_not_counted(alice: ChatKit, services: Services) -> None:
    events = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = events[0]["thread"]["id"]
    response = await alice.call(
        "items.feedback", thread_id=thread_id, item_ids=["msg_unknown"], kind="negative"
    )
    assert response.status_code == 200, response.text
    assert await stored_votes(services) == []
    assert await feedback_counts(alice) == {"positive": 0, "negative": 0}


async def test_feedback_on_another_users_thread_is_not_found(
    alice: ChatKit, bob: ChatKit, services: Services
) -> None:
    events = await alice.stream("threads.create", input=user_input("private"))
    thread_id, answer_id = events[0]["thread"]["id"], events[-1]["item"]["id"]
    response = await bob.call(
        "items.feedback", thread_id=thread_id, item_ids=[answer_id], kind="negative"
    )
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"
    assert await stored_votes(services) == []
    assert await feedback_counts(bob) == {"positive": 0, "negative": 0}


async def test_feedback_needs_no_actor(alice: ChatKit, services: Services) -> None:
    """The server records votes wherever it is called from: here without the thread's actor,
    its memo or the request checks in front of it."""
    events = await alice.stream("threads.create", input=user_input("hi"))
    thread_id, answer_id = events[0]["thread"]["id"], events[-1]["item"]["id"]

    def vote(user: str) -> Awaitable[bytes]:
        request = ItemsFeedbackReq(
            params=ItemFeedbackParams(thread_id=thread_id, item_ids=[answer_id], kind="negative")
        )
        return services.server.answer(request, RequestContext(user_id=user))

    with pytest.raises(NotFoundError):
        await vote("bob")
    assert await stored_votes(services) == []
    assert await vote("alice") == b"{}"
    assert await stored_votes(services) == [(thread_id, answer_id, "alice", "negative")]

"""A whole conversation through the real HTTP stack: Hypercorn, SSE, actors, PostgreSQL."""

from __future__ import annotations

from functools import partial

import httpx
import pytest
import trio

from robolearn.config import Settings
from robolearn.services import Services

from ._models import RecordingModel
from .conftest import ChatKit, parse_sse, quiescent, user_input, wait_until

PAGE = {
    "url": "https://robolearn.example/docs/module-1-ros2/chapter-2/topics",
    "title": "Topics and Messages",
    "path": "/docs/module-1-ros2/chapter-2/topics",
    "headings": ["Publishers", "Subscribers"],
}
USER = {"id": "u-alice", "name": "Alice", "softwareBackground": "Python", "hardwareTier": 2}


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


@pytest.fixture
def settings(database_url: str, tmp_path: object) -> Settings:
    # Load from one user: this module is about ordering, not about per-user limits.
    return Settings(
        database_url=database_url,
        auth="dev",
        mailbox_capacity=64,
        rate_limit_per_minute=0,
        max_streams_per_user=200,
    )


def types(events: list[dict[str, object]]) -> list[object]:
    return [event["type"] for event in events]


async def test_new_thread_streams_in_protocol_order_and_persists(alice: ChatKit) -> None:
    events = await alice.stream("threads.create", input=user_input("What is a node?"))
    kinds = [t for t in types(events) if t != "thread.updated"]
    assert kinds[:4] == [
        "thread.created",
        "thread.item.done",
        "stream_options",
        "thread.item.added",
    ]
    assert kinds[-1] == "thread.item.done"
    assert set(kinds[4:-1]) == {"thread.item.updated"}
    user_item, answer = events[1]["item"], events[-1]["item"]
    assert user_item["type"] == "user_message"
    assert answer["type"] == "assistant_message"
    assert answer["content"][0]["text"].startswith("answer to: What is a node?")

    thread_id = events[0]["thread"]["id"]
    listed = (await alice.call("items.list", thread_id=thread_id, order="asc")).json()
    assert [i["id"] for i in listed["data"]] == [user_item["id"], answer["id"]]
    thread = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert thread["title"] == "What is a node?"


async def test_follow_up_uses_history_once_and_keeps_page_context(
    alice: ChatKit, model: RecordingModel
) -> None:
    metadata = {"userInfo": USER, "pageContext": PAGE}
    first = await alice.stream("threads.create", metadata=metadata, input=user_input("Q1"))
    thread_id = first[0]["thread"]["id"]
    # The follow-up carries no metadata, as the textbook frontend sends it.
    await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input("Q2"))

    call = model.calls[-1]
    assert call.instructions is not None
    assert "Topics and Messages" in call.instructions
    assert "Alice" in call.instructions
    texts = [str(item) for item in call.input]
    assert sum("Q2" in text for text in texts) == 1  # the new message, not duplicated
    assert any("Q1" in text for text in texts)
    assert any("answer to: Q1" in text for text in texts)


async def test_history_is_limited_to_the_last_ten_items(
    alice: ChatKit, model: RecordingModel
) -> None:
    first = await alice.stream("threads.create", input=user_input("m0"))
    thread_id = first[0]["thread"]["id"]
    for n in range(1, 8):
        await alice.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(f"m{n}")
        )
    history = model.calls[-1].input[:-1]
    assert len(history) == 10
    assert "m7" in str(model.calls[-1].input[-1])


async def test_threads_list_pages(alice: ChatKit, bob: ChatKit) -> None:
    ids = []
    for n in range(3):
        events = await alice.stream("threads.create", input=user_input(f"thread {n}"))
        ids.append(events[0]["thread"]["id"])
    await bob.stream("threads.create", input=user_input("bob's"))

    page1 = (await alice.call("threads.list", limit=2, order="desc")).json()
    assert [t["id"] for t in page1["data"]] == [ids[2], ids[1]]
    assert page1["has_more"] is True
    page2 = (await alice.call("threads.list", limit=2, order="desc", after=page1["after"])).json()
    assert [t["id"] for t in page2["data"]] == [ids[0]]
    assert page2["has_more"] is False


async def test_pipelined_messages_are_answered_in_order(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    model.tokens, model.delay = 5, 0.002
    first = await alice.stream("threads.create", input=user_input("start"))
    thread_id = first[0]["thread"]["id"]
    answers: dict[int, list[dict[str, object]]] = {}

    async def send(n: int) -> None:
        answers[n] = await alice.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(f"msg {n}")
        )

    def accepted(count: int) -> bool:
        return services.actors.statistics().messages_accepted >= count

    async with trio.open_nursery() as nursery:
        base = services.actors.statistics().messages_accepted
        for n in range(20):
            # Order is the order the server accepts requests in: concurrent connections
            # carry no order of their own, so each one goes once the one before is in.
            nursery.start_soon(send, n)
            await wait_until(partial(accepted, base + n + 1))

    for n, events in answers.items():
        texts = [
            e["item"]["content"][0]["text"]
            for e in events
            if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
        ]
        assert texts == [f"answer to: msg {n} t1 t2 t3 t4"]

    items = (await alice.call("items.list", thread_id=thread_id, limit=100, order="asc")).json()[
        "data"
    ]
    assert len(items) == 42
    pairs = list(zip(items[::2], items[1::2], strict=True))
    asked = []
    for question, answer in pairs:
        assert question["type"] == "user_message"
        assert answer["type"] == "assistant_message"
        text = question["content"][0]["text"]
        assert answer["content"][0]["text"].startswith(f"answer to: {text} ")
        asked.append(text)
    assert asked == ["start", *[f"msg {n}" for n in range(20)]]


async def test_hundred_threads_run_concurrently(alice: ChatKit, model: RecordingModel) -> None:
    model.delay = 0.005
    results: dict[int, list[dict[str, object]]] = {}

    async def converse(n: int) -> None:
        results[n] = await alice.stream("threads.create", input=user_input(f"thread {n}"))

    with trio.fail_after(60):
        async with trio.open_nursery() as nursery:
            for n in range(100):
                nursery.start_soon(converse, n)
    assert len(results) == 100
    thread_ids = {events[0]["thread"]["id"] for events in results.values()}
    assert len(thread_ids) == 100
    for n, events in results.items():
        assert events[-1]["item"]["content"][0]["text"].startswith(f"answer to: thread {n} ")


async def test_reads_do_not_wait_behind_a_running_answer(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    first = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = first[0]["thread"]["id"]
    model.tokens, model.delay = 100, 0.02  # a 2 s answer
    before = model.deltas
    async with trio.open_nursery() as nursery:
        nursery.start_soon(
            lambda: alice.stream(
                "threads.add_user_message", thread_id=thread_id, input=user_input("slow")
            )
        )
        await wait_until(lambda: model.deltas > before)  # the second answer is under way
        with trio.fail_after(1):
            listed = await alice.call("items.list", thread_id=thread_id, order="asc")
        assert listed.status_code == 200
        # Read while the answer was still running, not after it.
        assert services.actors.statistics().busy_actors == 1
        assert [i["type"] for i in listed.json()["data"]][-1] == "user_message"


async def test_unknown_request_body_is_not_a_500(http: httpx.AsyncClient) -> None:
    response = await http.post("/chatkit", content=b"\xff\xfe", headers={"X-User-ID": "a"})
    assert response.status_code == 400


async def test_retry_replaces_the_answer(alice: ChatKit, model: RecordingModel) -> None:
    first = await alice.stream("threads.create", input=user_input("again?"))
    thread_id = first[0]["thread"]["id"]
    user_id, old_answer = first[1]["item"]["id"], first[-1]["item"]["id"]
    events = await alice.stream("threads.retry_after_item", thread_id=thread_id, item_id=user_id)
    new_answer = events[-1]["item"]
    assert new_answer["type"] == "assistant_message"
    assert new_answer["id"] != old_answer
    items = (await alice.call("items.list", thread_id=thread_id, order="asc")).json()["data"]
    assert [i["id"] for i in items] == [user_id, new_answer["id"]]
    # The model saw the question once, not twice.
    assert sum("again?" in str(item) for item in model.calls[-1].input) == 1


async def test_cancelled_turn_persists_the_partial_answer(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    first = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = first[0]["thread"]["id"]
    model.tokens, model.delay = 200, 0.01  # 2 s: cancelled long before the end
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("interrupt me")},
    }
    async with trio.open_nursery() as nursery:

        async def send() -> None:
            response = await alice.http.post("/chatkit", json=body, headers=alice.headers)
            sent.extend(parse_sse(response.content))

        sent: list[dict[str, object]] = []
        nursery.start_soon(send)
        before = model.deltas
        await wait_until(lambda: len(model.calls) == 2 and model.deltas >= before + 5)
        assert services.actors.cancel(("alice", thread_id))

    assert sent[-1]["type"] == "error"  # the client is told, and may retry
    await wait_until(lambda: quiescent(services))
    items = (await alice.call("items.list", thread_id=thread_id, order="asc")).json()["data"]
    assert [i["type"] for i in items] == [
        "user_message",
        "assistant_message",
        "user_message",
        "assistant_message",
    ]
    partial = items[-1]["content"][0]["text"]
    assert partial.startswith("answer to: interrupt me t1")
    assert not partial.endswith("t199")
    # The model run stopped with the turn: no more calls, nothing still streaming.
    assert len(model.calls) == 2
    # The next message on the thread works, and its history includes the partial answer.
    after = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("ok")
    )
    assert after[-1]["item"]["content"][0]["text"].startswith("answer to: ok")

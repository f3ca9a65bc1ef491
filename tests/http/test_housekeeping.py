"""Housekeeping (rename, feedback, attachment delete) never waits behind a running answer,
and the running answer never undoes it; bad messages are refused before anything runs."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import trio
from chatkit.store import NotFoundError

from robolearn.chat import RequestContext
from robolearn.services import Services

from ._models import RecordingModel
from .conftest import ChatKit, user_input
from .test_attachments import PNG, _two_phase

PAGE = {"title": "Topics", "path": "/docs/module-1/topics"}


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


@asynccontextmanager
async def answering(
    client: ChatKit, body: dict[str, Any]
) -> AsyncIterator[tuple[list[dict[str, Any]], Callable[[], Awaitable[None]]]]:
    """Stream ``body``; inside the block the answer has started (its first delta came) and
    is still running. ``events`` fills up; ``finish()`` reads the rest of the stream."""
    events: list[dict[str, Any]] = []
    async with client.http.stream("POST", "/chatkit", json=body, headers=client.headers) as sse:
        lines = sse.aiter_lines()

        async def read_until(done: Callable[[dict[str, Any]], bool]) -> None:
            async for line in lines:
                if line.startswith("data: "):
                    events.append(json.loads(line[len("data: ") :]))
                    if done(events[-1]):
                        return

        await read_until(lambda event: "text_delta" in json.dumps(event))

        async def finish() -> None:
            await read_until(lambda event: False)

        yield events, finish


def answer_done(events: list[dict[str, Any]]) -> bool:
    return any(
        event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
        for event in events
    )


async def test_a_rename_during_the_first_answer_survives_it(
    alice: ChatKit, model: RecordingModel
) -> None:
    model.tokens, model.delay = 100, 0.02  # a 2 s answer
    body = {"type": "threads.create", "params": {"input": user_input("What is a topic?")}}
    async with answering(alice, body) as (events, finish):
        thread_id = events[0]["thread"]["id"]
        before_rename = len(events)
        renamed = await alice.call("threads.update", thread_id=thread_id, title="My topics")
        assert renamed.status_code == 200, renamed.text
        assert renamed.json()["title"] == "My topics"
        assert not answer_done(events), "the rename waited for the answer"
        await finish()
    assert answer_done(events)
    stored = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert stored["title"] == "My topics"
    # Whatever the stream said of the thread after the rename says the new title too.
    updates = [
        event["thread"]["title"]
        for event in events[before_rename:]
        if event["type"] == "thread.updated"
    ]
    assert not updates or updates[-1] == "My topics"


async def test_a_turn_that_changes_the_thread_keeps_a_rename_made_meanwhile(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    first = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = first[0]["thread"]["id"]
    model.tokens, model.delay = 100, 0.02
    # New page context: this turn saves the thread (it remembers the page) when it ends.
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("and this page?")},
        "metadata": {"pageContext": PAGE},
    }
    async with answering(alice, body) as (events, finish):
        renamed = await alice.call("threads.update", thread_id=thread_id, title="Renamed")
        assert renamed.status_code == 200
        assert not answer_done(events)
        await finish()
    stored = await services.store.load_thread(thread_id, RequestContext(user_id="alice"))
    assert stored.title == "Renamed"
    assert stored.metadata["robolearn"]["pageContext"]["title"] == "Topics"
    # And the next turn, served from the actor's memory of the thread, keeps it too.
    model.tokens, model.delay = 2, 0.0
    await alice.stream(
        "threads.add_user_message",
        thread_id=thread_id,
        input=user_input("more"),
        metadata={"pageContext": {"title": "Services", "path": "/docs/services"}},
    )
    stored = await services.store.load_thread(thread_id, RequestContext(user_id="alice"))
    assert stored.title == "Renamed"
    assert stored.metadata["robolearn"]["pageContext"]["title"] == "Services"


async def test_feedback_does_not_wait_for_a_running_answer(
    alice: ChatKit, model: RecordingModel
) -> None:
    first = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = first[0]["thread"]["id"]
    answer_id = first[-1]["item"]["id"]
    model.tokens, model.delay = 100, 0.02
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("again")},
    }
    async with answering(alice, body) as (events, finish):
        voted = await alice.call(
            "items.feedback", thread_id=thread_id, item_ids=[answer_id], kind="negative"
        )
        assert voted.status_code == 200, voted.text
        assert not answer_done(events)
        await finish()


async def test_an_attachment_delete_does_not_wait_for_a_running_answer(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    image = await _two_phase(alice, "dot.png", "image/png", PNG)
    first = await alice.stream("threads.create", input=user_input("look", [str(image["id"])]))
    thread_id = first[0]["thread"]["id"]
    model.tokens, model.delay = 100, 0.02
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("and now?")},
    }
    async with answering(alice, body) as (events, finish):
        deleted = await alice.call("attachments.delete", attachment_id=image["id"])
        assert deleted.status_code == 200, deleted.text
        assert not answer_done(events)
        await finish()
    with pytest.raises(NotFoundError):
        await services.store.load_attachment(image["id"], RequestContext(user_id="alice"))


@pytest.mark.parametrize(
    "content",
    [
        [],
        [{"type": "input_text", "text": ""}],
        [{"type": "input_text", "text": " \n\t "}],
        [{"type": "input_text", "text": "\u200b\ufeff\u2028\x07"}],
    ],
    ids=["no parts", "empty text", "blank text", "invisible text"],
)
async def test_an_empty_message_is_refused(
    alice: ChatKit, model: RecordingModel, content: list[dict[str, str]]
) -> None:
    message = {"content": content, "attachments": [], "inference_options": {}}
    response = await alice.call("threads.create", input=message)
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "empty_message"
    assert model.calls == []
    listed = (await alice.call("threads.list", limit=10)).json()
    assert listed["data"] == []


async def test_a_tag_alone_is_a_message(alice: ChatKit, model: RecordingModel) -> None:
    message = {
        "content": [{"type": "input_tag", "id": "t", "text": "turtlesim", "data": {"a": 1}}],
        "attachments": [],
        "inference_options": {},
    }
    events = await alice.stream("threads.create", input=message)
    assert events[-1]["item"]["content"][0]["text"].startswith("answer to: @turtlesim")


async def test_dictation_without_a_provider_says_it_is_not_configured(alice: ChatKit) -> None:
    response = await alice.call("input.transcribe", audio_base64="AAAA", mime_type="audio/webm")
    assert response.status_code == 501
    error = response.json()["error"]
    assert error["code"] == "not_configured"
    assert "ROBOLEARN_TRANSCRIPTION_MODEL" in error["message"]


async def test_concurrent_housekeeping_on_a_busy_server_is_answered(
    alice: ChatKit, model: RecordingModel
) -> None:
    first = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = first[0]["thread"]["id"]
    with trio.fail_after(10):
        async with trio.open_nursery() as nursery:
            for n in range(10):
                nursery.start_soon(
                    lambda n=n: alice.call("threads.update", thread_id=thread_id, title=f"t{n}")
                )
    title = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()["title"]
    assert title in {f"t{n}" for n in range(10)}


async def test_another_users_thread_cannot_be_renamed(alice: ChatKit, bob: ChatKit) -> None:
    first = await alice.stream("threads.create", input=user_input("mine"))
    thread_id = first[0]["thread"]["id"]
    response = await bob.call("threads.update", thread_id=thread_id, title="hijacked")
    assert response.status_code == 404
    stored = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert stored["title"] == "mine"

"""Stop (the client closing a streaming answer) stops the answer, as ChatKit defines it."""

from __future__ import annotations

from typing import Any

import pytest
from chatkit.types import AssistantMessageItem, SDKHiddenContextItem

from robolearn.chat import RequestContext
from robolearn.config import Settings
from robolearn.services import Services

from ._models import RecordingModel
from .conftest import ChatKit, parse_sse, post_and_hang_up, quiescent, user_input, wait_until

LONG = 40  # tokens, 10 ms apart: a 0.4 s answer, stopped after its first delta


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel(tokens=LONG, delay=0.01)


def thread_id_of(seen: bytes) -> str:
    body = seen.split(b"\r\n\r\n", 1)[1]
    for block in body.split(b"\n\n"):
        line = block.split(b"\r\n")[-1]
        for event in parse_sse(line + b"\n\n"):
            if event["type"] == "thread.created":
                return str(event["thread"]["id"])
    raise AssertionError("no thread.created event")


async def stored_items(services: Services, thread_id: str) -> list[Any]:
    """Every stored item, hidden ones included (items.list leaves those out)."""
    page = await services.store.load_thread_items(
        thread_id, None, 50, "asc", RequestContext(user_id="alice")
    )
    return list(page.data)


async def stop_after_first_delta(alice: ChatKit, text: str) -> str:
    body = {"type": "threads.create", "params": {"input": user_input(text)}}
    seen = await post_and_hang_up(alice, body, until=b"assistant_message.content_part.text_delta")
    assert b'"allow_cancel":true' in seen  # the widget shows Stop
    return thread_id_of(seen)


async def test_stop_cancels_the_answer_and_keeps_what_was_said(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    thread_id = await stop_after_first_delta(alice, "long one")
    await wait_until(lambda: quiescent(services))

    items = await stored_items(services, thread_id)
    kinds = [type(item) for item in items[1:]]
    assert kinds == [AssistantMessageItem, SDKHiddenContextItem]
    partial = items[1].content[0].text
    assert partial.startswith("answer to: long one")
    assert len(partial.split()) < LONG + 3, "the whole answer was generated: Stop did not stop"
    assert "cancelled" in items[2].content

    # The next turn works, and its model is told the last answer was stopped.
    model.tokens, model.delay = 3, 0.0
    events = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("next")
    )
    assert events[-1]["item"]["content"][0]["text"] == "answer to: next t1 t2"
    assert "The user cancelled the stream" in repr(model.calls[-1].input)


async def test_a_stop_before_any_text_keeps_no_empty_answer(
    alice: ChatKit, model: RecordingModel, services: Services
) -> None:
    body = {"type": "threads.create", "params": {"input": user_input("stop early")}}
    seen = await post_and_hang_up(alice, body, until=b'"type":"stream_options"')
    thread_id = thread_id_of(seen)
    await wait_until(lambda: quiescent(services))
    items = await stored_items(services, thread_id)
    # The user's message stays; an answer is kept only if it had text.
    assert items[0].type == "user_message"
    assert all(item.type != "assistant_message" or item.content[0].text for item in items)
    # The new thread has its title, though chatkit saves a thread after the answer only.
    listed = (await alice.call("threads.list")).json()["data"]
    assert [thread["title"] for thread in listed if thread["id"] == thread_id] == ["stop early"]


class TestFinishPolicy:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, auth="dev", on_disconnect="finish")

    async def test_the_answer_is_finished_and_stop_is_not_offered(
        self, alice: ChatKit, model: RecordingModel, services: Services
    ) -> None:
        body = {"type": "threads.create", "params": {"input": user_input("long one")}}
        seen = await post_and_hang_up(
            alice, body, until=b"assistant_message.content_part.text_delta"
        )
        assert b'"allow_cancel":false' in seen
        thread_id = thread_id_of(seen)
        await wait_until(lambda: quiescent(services))

        items = await stored_items(services, thread_id)
        assert [item.type for item in items] == ["user_message", "assistant_message"]
        expected = "answer to: long one " + " ".join(f"t{n}" for n in range(1, LONG))
        assert items[1].content[0].text == expected

"""A turn interrupted between storing something and reporting it.

The client must learn what was stored: the events for it, then a retryable error. A bare
``503 interrupted`` tells it nothing was, and its retry would store the message twice.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from chatkit.types import ThreadItem, ThreadMetadata, UserMessageItem

from robolearn.chat import RequestContext
from robolearn.services import Services

from .conftest import ChatKit, parse_sse, user_input, wait_until


def cancel_at(
    services: Services, monkeypatch: pytest.MonkeyPatch, method: str, *, after_write: bool
) -> None:
    """Cancel the turn's actor when it calls the store's ``method``, before or after writing.

    The cancel lands while the write is in flight (the turn is inside the store call), which
    is where a real one can land too.
    """
    store = services.store
    original = getattr(store, method)

    async def interrupted(*args: Any) -> None:
        record: ThreadMetadata | ThreadItem = args[-2]
        context: RequestContext = args[-1]
        if method == "add_thread_item" and not isinstance(record, UserMessageItem):
            await original(*args)
            return
        if after_write:
            await original(*args)
        thread_id = record.id if isinstance(record, ThreadMetadata) else args[0]
        monkeypatch.setattr(store, method, original)  # once
        assert services.actors.cancel((context.user_id, thread_id))
        await asyncio.sleep(1)  # the cancel arrives here
        raise AssertionError("not cancelled")

    monkeypatch.setattr(store, method, interrupted)


async def stream_raw(alice: ChatKit, type_: str, **params: Any) -> tuple[int, list[dict[str, Any]]]:
    body = {"type": type_, "params": params}
    response = await alice.http.post("/chatkit", json=body, headers=alice.headers)
    if response.status_code != 200:
        return response.status_code, [response.json()]
    return 200, parse_sse(response.content)


async def user_texts(alice: ChatKit, thread_id: str) -> list[str]:
    response = await alice.call("items.list", thread_id=thread_id, order="asc")
    return [
        item["content"][0]["text"]
        for item in response.json()["data"]
        if item["type"] == "user_message"
    ]


def retryable_error(event: dict[str, Any]) -> bool:
    return event["type"] == "error" and event["allow_retry"] is True


async def add_message(
    alice: ChatKit, thread_id: str, text: str
) -> tuple[int, list[dict[str, Any]]]:
    return await stream_raw(
        alice, "threads.add_user_message", thread_id=thread_id, input=user_input(text)
    )


async def new_thread(alice: ChatKit) -> str:
    events = await alice.stream("threads.create", input=user_input("first"))
    thread_id: str = events[0]["thread"]["id"]
    return thread_id


@pytest.mark.parametrize("stored", [True, False], ids=["stored", "not-stored"])
async def test_message_interrupted_mid_write_is_never_duplicated(
    alice: ChatKit, services: Services, monkeypatch: pytest.MonkeyPatch, stored: bool
) -> None:
    thread_id = await new_thread(alice)
    cancel_at(services, monkeypatch, "add_thread_item", after_write=stored)
    status, events = await add_message(alice, thread_id, "second")
    if stored:
        assert status == 200, events
        assert [event["type"] for event in events] == ["thread.item.done", "error"]
        assert events[0]["item"]["type"] == "user_message"
        assert events[0]["item"]["content"][0]["text"] == "second"
        assert retryable_error(events[1])
        # Known to be stored, it is not sent again; the client's retry answers it again.
        events = await alice.stream(
            "threads.retry_after_item", thread_id=thread_id, item_id=events[0]["item"]["id"]
        )
        assert events[-1]["type"] != "error"
    else:
        # A 503 says nothing was stored: sending it again is safe.
        assert status == 503, events
        assert events[0]["error"]["code"] == "interrupted"
        assert await user_texts(alice, thread_id) == ["first"]
        assert (await add_message(alice, thread_id, "second"))[0] == 200
    assert await user_texts(alice, thread_id) == ["first", "second"]


@pytest.mark.parametrize(
    ("method", "expected"),
    [
        ("save_thread", ["thread.created", "error"]),
        ("add_thread_item", ["thread.created", "thread.item.done", "error"]),
    ],
)
async def test_new_thread_interrupted_reports_what_it_stored(
    alice: ChatKit,
    services: Services,
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    expected: list[str],
) -> None:
    cancel_at(services, monkeypatch, method, after_write=True)
    status, events = await stream_raw(alice, "threads.create", input=user_input("hello"))
    assert status == 200, events
    assert [event["type"] for event in events] == expected
    assert retryable_error(events[-1])
    thread_id = events[0]["thread"]["id"]
    stored = ["hello"] if "thread.item.done" in expected else []
    assert await user_texts(alice, thread_id) == stored
    await wait_until(lambda: not services.actors.statistics().busy_actors)

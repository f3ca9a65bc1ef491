"""A message resent after its first copy was stored but never answered is kept once."""

from __future__ import annotations

from datetime import UTC, datetime

from chatkit.types import InferenceOptions, UserMessageItem, UserMessageTextContent

from robolearn.chat import RequestContext
from robolearn.services import Services

from .conftest import ChatKit, user_input, wait_until

ALICE = RequestContext(user_id="alice")


async def with_unanswered(alice: ChatKit, services: Services, text: str) -> str:
    """A thread with one answered question, then ``text`` unanswered: what a process killed
    after committing a message, before acknowledging it, leaves (written outside this
    process's actor, once that actor let go of the thread)."""
    events = await alice.stream("threads.create", input=user_input("first question"))
    thread_id = str(events[0]["thread"]["id"])
    locks = services.locks
    assert locks is not None
    await wait_until(lambda: locks.statistics().held == 0)
    thread = await services.store.load_thread(thread_id, ALICE)
    item = UserMessageItem(
        id=services.store.generate_item_id("message", thread, ALICE),
        thread_id=thread_id,
        created_at=datetime.now(UTC),
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        quoted_text=None,
        inference_options=InferenceOptions(),
    )
    await services.store.add_thread_item(thread_id, item, ALICE)
    return thread_id


async def send(alice: ChatKit, thread_id: str, text: str) -> None:
    await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input(text))


async def conversation(alice: ChatKit, thread_id: str) -> list[tuple[str, str]]:
    """Each item's type and first three words."""
    listed = await alice.call("items.list", thread_id=thread_id, limit=50, order="asc")
    return [
        (item["type"], " ".join(item["content"][0]["text"].split()[:3]))
        for item in listed.json()["data"]
    ]


async def test_a_resent_message_replaces_its_unanswered_copy(
    alice: ChatKit, services: Services
) -> None:
    thread_id = await with_unanswered(alice, services, "second question")
    await send(alice, thread_id, "second question")
    assert await conversation(alice, thread_id) == [
        ("user_message", "first question"),
        ("assistant_message", "answer to: first"),
        ("user_message", "second question"),
        ("assistant_message", "answer to: second"),
    ]


async def test_other_messages_and_answered_ones_are_kept(
    alice: ChatKit, services: Services
) -> None:
    thread_id = await with_unanswered(alice, services, "another question")
    await send(alice, thread_id, "second question")
    # Asked again after its answer, the same words are a new question.
    await send(alice, thread_id, "second question")
    asked = [
        words for kind, words in await conversation(alice, thread_id) if kind == "user_message"
    ]
    assert asked == ["first question", "another question", "second question", "second question"]

from __future__ import annotations

from .conftest import ChatKit, user_input


async def test_conversation(alice: ChatKit) -> None:
    events = await alice.stream("threads.create", input=user_input("hello"))
    print([e["type"] for e in events])
    thread_id = events[0]["thread"]["id"]
    r = await alice.call("items.list", thread_id=thread_id)
    items = r.json()["data"]
    assert len(items) == 2

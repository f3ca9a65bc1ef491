"""Thread locks in one server process: held only while a thread has work, the memo kept while
nobody else writes, and a lost lock session handled (the turn under it cut, the next retaken)."""

from __future__ import annotations

import logging

import pytest
import trio

from robolearn.chat import ScriptedTokensModel
from robolearn.services import Services
from robolearn.store import ThreadLocks

from .conftest import ChatKit, parse_sse, user_input, wait_until


@pytest.fixture
def model() -> ScriptedTokensModel:
    # Slow enough (1 s) for a lock session to be lost under a running answer.
    return ScriptedTokensModel(tokens=100, delay=0.01)


def locks_of(services: Services) -> ThreadLocks:
    assert services.locks is not None
    return services.locks


async def test_a_lone_process_keeps_its_memo_and_holds_locks_only_while_busy(
    services: Services, alice: ChatKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="robolearn.chat")
    locks = locks_of(services)
    events = await alice.stream("threads.create", input=user_input("one"))
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    await wait_until(lambda: locks.statistics().held == 0)
    await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input("two"))
    await wait_until(lambda: locks.statistics().held == 0)
    stats = locks.statistics()
    assert stats.taken == 2 and stats.failed_tries == 0, stats
    assert not [r for r in caplog.records if "written elsewhere" in r.getMessage()]


async def test_a_rename_between_turns_is_seen_by_the_next_turn(
    services: Services, alice: ChatKit, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="robolearn.chat")
    events = await alice.stream("threads.create", input=user_input("one"))
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    await wait_until(lambda: locks_of(services).statistics().held == 0)
    renamed = await alice.call("threads.update", thread_id=thread_id, title="Renamed")
    assert renamed.status_code == 200
    await alice.stream("threads.add_user_message", thread_id=thread_id, input=user_input("two"))
    # The rename bypassed the actor: the thread's version moved, so the memo was dropped.
    assert [r for r in caplog.records if "written elsewhere" in r.getMessage()]
    thread = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert thread["title"] == "Renamed"


async def test_a_lost_lock_session_cuts_the_turn_under_it_and_the_next_turn_retakes_it(
    services: Services, alice: ChatKit
) -> None:
    locks = locks_of(services)
    events = await alice.stream("threads.create", input=user_input("one"))
    thread_id = next(e["thread"]["id"] for e in events if e["type"] == "thread.created")
    await wait_until(lambda: locks.statistics().held == 0)
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("two")},
    }
    async with (
        alice.http.stream("POST", "/chatkit", json=body, headers=alice.headers) as response,
        trio.open_nursery(),
    ):
        raw = b""
        chunks = response.aiter_raw()
        while b"thread.item.updated" not in raw:
            raw += await chunks.__anext__()
        assert locks.statistics().held == 1
        pid = locks.backend_pid
        await services.store.run(
            lambda conn: conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
        )
        async for chunk in chunks:
            raw += chunk
    cut = parse_sse(raw)
    assert cut[-1]["type"] == "error" and cut[-1]["allow_retry"] is True, cut[-1]
    assert locks.statistics().sessions_lost == 1
    with trio.fail_after(10):
        await wait_until(lambda: locks.connected)
    events = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("three")
    )
    answer = next(
        e["item"]
        for e in events
        if e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"
    )
    assert answer["content"][0]["text"].startswith("answer to: three")

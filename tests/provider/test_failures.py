"""Provider failures: retried where safe, then a readable error event; the thread stays usable."""

from __future__ import annotations

from typing import Any

import pytest

from robolearn.standin import CutAfter, HangAfter, Stall, StandIn, Status
from tests.http.conftest import ChatKit, user_input

from .test_conversations import answer_text, errors


async def start_thread(alice: ChatKit) -> str:
    events = await alice.stream("threads.create", input=user_input("hello"))
    assert not errors(events)
    return str(events[0]["thread"]["id"])


async def ask(alice: ChatKit, thread_id: str, text: str) -> list[dict[str, Any]]:
    return await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input(text)
    )


async def still_usable(alice: ChatKit, thread_id: str) -> None:
    events = await ask(alice, thread_id, "are you back?")
    assert not errors(events)
    assert answer_text(events).startswith("answer to: are you back?")


async def test_a_rate_limit_before_the_answer_is_retried(alice: ChatKit, standin: StandIn) -> None:
    thread_id = await start_thread(alice)
    await standin.reset()
    await standin.inject(Status(429, retry_after=0.1))
    events = await ask(alice, thread_id, "busy?")
    assert not errors(events)
    assert answer_text(events).startswith("answer to: busy?")
    assert [(await standin.wait_stream(n)).outcome for n in (0, 1)] == ["error", "completed"]


@pytest.mark.parametrize(
    ("faults", "message", "allow_retry"),
    [
        ([Status(500)] * 2, "service had an error (HTTP 500)", True),
        ([Status(429, retry_after=0.05)] * 2, "too many requests", True),
        ([Stall(5.0)] * 2, "took too long", True),
        ([CutAfter(2)], "connection to the AI model was lost", True),
        ([HangAfter(2)], "took too long", True),
        ([Status(401)], "refused the request (HTTP 401)", False),
    ],
    ids=["5xx", "429", "timeout", "cut mid-answer", "stalled mid-answer", "401"],
)
async def test_a_failure_ends_the_answer_with_a_readable_error(
    alice: ChatKit,
    standin: StandIn,
    faults: list[Any],
    message: str,
    allow_retry: bool,
) -> None:
    thread_id = await start_thread(alice)
    await standin.inject(*faults)
    events = await ask(alice, thread_id, "fail now")
    [error] = errors(events)
    assert message in error["message"]
    assert error["allow_retry"] is allow_retry
    # The user's message is kept (a retry answers it) and the thread goes on.
    listed = (await alice.call("items.list", thread_id=thread_id, order="asc")).json()["data"]
    assert listed[-1]["content"][0]["text"] in ("fail now", "answer to: fail now t1")
    await still_usable(alice, thread_id)

"""Stop over the real client path: the provider's HTTP stream is closed at once."""

from __future__ import annotations

import time

import trio

from robolearn.chat import RequestContext
from robolearn.services import Services
from robolearn.standin import StandIn
from tests.http.conftest import ChatKit, post_and_hang_up, quiescent, user_input, wait_until

from .test_conversations import answer_text, errors, history_text

# Deliberately small: the provider closes its answer this long after the client left.
STOP_DEADLINE = 1.0


async def test_stop_closes_the_providers_stream_and_keeps_the_partial_answer(
    alice: ChatKit, standin: StandIn, services: Services
) -> None:
    first = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = first[0]["thread"]["id"]
    await standin.configure(tokens=500, delay_ms=20)  # a 10 s answer
    before = len(await standin.requests())
    body = {
        "type": "threads.add_user_message",
        "params": {"thread_id": thread_id, "input": user_input("tell me everything")},
    }
    await post_and_hang_up(alice, body, until=b"assistant_message.content_part.text_delta")
    stopped_at = time.monotonic()

    record = await standin.wait_stream(before, timeout=5)
    assert record.outcome == "client_closed"
    assert record.ended is not None
    assert record.ended - stopped_at < STOP_DEADLINE
    assert record.deltas < 500

    await wait_until(lambda: quiescent(services))
    page = await services.store.load_thread_items(
        thread_id, None, 10, "asc", RequestContext(user_id="alice")
    )
    kinds = [item.type for item in page.data]
    assert kinds[-3:] == ["user_message", "assistant_message", "sdk_hidden_context"]
    assert page.data[-2].content[0].text.startswith("answer to: tell me everything")

    # The next turn is answered, does not continue the old one, and tells the model why.
    await standin.configure(tokens=3, delay_ms=0)
    events = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("shorter please")
    )
    assert not errors(events)
    assert answer_text(events) == "answer to: shorter please t1 t2"
    last = (await standin.requests())[-1]
    assert "The user cancelled the stream" in repr(history_text(last))


async def test_many_stops_leave_nothing_behind(
    alice: ChatKit, standin: StandIn, services: Services
) -> None:
    # agents #574/#1895: repeated cancels used to exhaust the HTTP connection pool.
    await standin.configure(tokens=500, delay_ms=20)
    body = {"type": "threads.create", "params": {"input": user_input("go")}}
    for _ in range(12):
        await post_and_hang_up(alice, body, until=b"assistant_message.content_part.text_delta")
    with trio.fail_after(10):
        for record in await standin.streams():
            if record.ended is None:
                record = await standin.wait_stream(record.n, timeout=5)
            assert record.outcome in ("client_closed", "completed")
    await wait_until(lambda: quiescent(services))
    await standin.configure(tokens=2, delay_ms=0)
    events = await alice.stream("threads.create", input=user_input("still there?"))
    assert answer_text(events) == "answer to: still there? t1"

"""Multi-turn conversations through /chatkit with a provider model over HTTP (both APIs)."""

from __future__ import annotations

import base64
from datetime import datetime
from typing import Any

from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    ClientToolCallItem,
    HiddenContextItem,
    SDKHiddenContextItem,
    UserMessageItem,
)

from robolearn.chat import RequestContext
from robolearn.config import OpenAIApi
from robolearn.services import Services
from robolearn.standin import RecordedRequest, StandIn
from tests.http.conftest import ChatKit, user_input
from tests.store._factories import thread, user_message


def answer_text(events: list[dict[str, Any]]) -> str:
    done = [
        event["item"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
    ]
    assert done, f"no answer in {[event['type'] for event in events]}"
    return str(done[-1]["content"][0]["text"])


def errors(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [event for event in events if event["type"] == "error"]


def history_text(request: RecordedRequest) -> list[tuple[str, str]]:
    """(role, text) of the conversation a model request carried, in either API's shape."""
    entries = request.body.get("messages") or request.body.get("input") or []
    out = []
    for entry in entries:
        if not isinstance(entry, dict) or "role" not in entry:
            continue
        content = entry.get("content")
        if isinstance(content, list):
            content = " ".join(str(part.get("text", "")) for part in content)
        out.append((entry["role"], str(content)))
    return out


async def test_three_turns_with_tool_calls(
    alice: ChatKit, standin: StandIn, api: OpenAIApi
) -> None:
    first = await alice.stream("threads.create", input=user_input("please search ROS 2 topics"))
    assert not errors(first)
    thread_id = first[0]["thread"]["id"]
    # The model asked for the book search, got its results and answered from them.
    assert answer_text(first).startswith("answer to: please search ROS 2 topics [tool said: ")

    second = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("search services too")
    )
    assert not errors(second)
    assert answer_text(second).startswith("answer to: search services too [tool said: ")

    third = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("thanks, and nodes?")
    )
    assert not errors(third)
    assert answer_text(third) == "answer to: thanks, and nodes? t1 t2 t3 t4 t5"

    requests = await standin.requests()
    model_calls = [r for r in requests if not _is_title_request(r)]
    # Two calls per tool-using turn (the call, then the answer), one for the last.
    assert len(model_calls) == 5
    expected = "/v1/chat/completions" if api == "chat_completions" else "/v1/responses"
    assert {r.path for r in model_calls} == {expected}
    # The last turn carried both earlier questions and both earlier answers, in order.
    turns = [(role, text[:40]) for role, text in history_text(model_calls[-1])]
    assert ("user", "please search ROS 2 topics") in turns
    assert ("assistant", answer_text(first)[:40]) in turns
    assert ("assistant", answer_text(second)[:40]) in turns
    assert turns[-1] == ("user", "thanks, and nodes?")


async def test_a_history_of_every_item_kind_never_breaks_a_turn(
    alice: ChatKit, services: Services, standin: StandIn
) -> None:
    # Written straight to the store, as an older version of the server (or another
    # ChatKit server on the same database) might have left them.
    thread_id = "thr_every_kind"
    context = RequestContext(user_id="alice")
    store = services.store
    await store.save_thread(thread(thread_id), context)
    now = datetime.now()
    base = {"thread_id": thread_id, "created_at": now}
    tagged = UserMessageItem.model_validate(
        {
            **base,
            "id": "msg_tagged",
            "content": [
                {"type": "input_text", "text": "compare "},
                {"type": "input_tag", "id": "t", "text": "turtlesim", "data": {"x": 1}},
            ],
            "quoted_text": "a quote",
            "inference_options": {},
        }
    )
    for item in [
        user_message("msg_first", "hello", thread_id),
        AssistantMessageItem(
            id="msg_answer",
            content=[AssistantMessageContent(text="Hello! [Nodes](https://x/n)")],
            **base,
        ),
        tagged,
        HiddenContextItem(id="hc_1", content={"note": "structured"}, **base),
        SDKHiddenContextItem(id="sdk_1", content="The user cancelled the stream.", **base),
        ClientToolCallItem(
            id="ctc_1",
            call_id="c1",
            name="open_page",
            arguments={"p": 1},
            output="done",
            status="completed",
            **base,
        ),
    ]:
        await store.add_thread_item(thread_id, item, context)

    events = await alice.stream(
        "threads.add_user_message", thread_id=thread_id, input=user_input("and now?")
    )
    assert not errors(events)
    assert answer_text(events).startswith("answer to: and now?")
    last = (await standin.requests())[-1]
    text = repr(history_text(last))
    assert "compare @turtlesim" in text and "open_page" in text and "cancelled" in text


async def test_a_tagged_message_and_its_follow_up_are_answered(alice: ChatKit) -> None:
    message = {
        "content": [
            {"type": "input_text", "text": "what is "},
            {"type": "input_tag", "id": "t1", "text": "rclpy", "data": {"kind": "library"}},
        ],
        "attachments": [],
        "inference_options": {},
    }
    first = await alice.stream("threads.create", input=message)
    assert not errors(first)
    assert answer_text(first).startswith("answer to: what is @rclpy")
    thread_id = first[0]["thread"]["id"]
    for text in ("and then?", "one more"):
        events = await alice.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input(text)
        )
        assert not errors(events)
        assert answer_text(events).startswith(f"answer to: {text}")


async def test_usage_chunks_change_nothing(alice: ChatKit, standin: StandIn) -> None:
    await standin.configure(usage="always")
    events = await alice.stream("threads.create", input=user_input("count tokens"))
    assert not errors(events)
    assert answer_text(events) == "answer to: count tokens t1 t2 t3 t4 t5"


async def test_a_base_url_without_a_key_sends_a_placeholder(
    alice: ChatKit, standin: StandIn
) -> None:
    await alice.stream("threads.create", input=user_input("hi"))
    requests = await standin.requests()
    assert requests
    assert {r.authorization for r in requests} == {"Bearer robolearn-no-key"}


async def test_the_model_titles_a_new_thread_after_its_first_answer(
    alice: ChatKit, standin: StandIn
) -> None:
    events = await alice.stream("threads.create", input=user_input("How do topics work?"))
    thread_id = events[0]["thread"]["id"]
    titles = [event["thread"]["title"] for event in events if event["type"] == "thread.updated"]
    assert titles[0] == "How do topics work?"  # at once: the first message
    # Then the model's (the stand-in answers "answer to: <the prompt>").
    assert titles[-1].startswith("answer to: How do topics work?")
    stored = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert stored["title"] == titles[-1]
    # The answer came before the title: the title never delayed it.
    kinds = [event["type"] for event in events]
    answer_done = max(
        n
        for n, event in enumerate(events)
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
    )
    assert kinds.index("thread.updated", answer_done) > answer_done


async def test_dictation_goes_through_the_provider(alice: ChatKit, standin: StandIn) -> None:
    audio = base64.b64encode(b"\x1aE\xdf\xa3" + b"\0" * 96).decode()
    response = await alice.call(
        "input.transcribe", audio_base64=audio, mime_type="audio/webm;codecs=opus"
    )
    assert response.status_code == 200, response.text
    assert response.json() == {"text": "transcribed 100 bytes of audio/webm"}


def _is_title_request(request: RecordedRequest) -> bool:
    body = request.body
    entries = body.get("messages") or body.get("input") or []
    instructions = str(body.get("instructions", "")) + repr(entries[:1])
    return "Write a title" in instructions

"""Reading a student's message: its shape, and the earlier topic a follow-up continues."""

from __future__ import annotations

import json

import pytest
from agents.items import TResponseInputItem

from robolearn.chat import SEARCH_TOOL_NAME
from robolearn.chat._question import Ask, resolve, subjects_of


def user(text: str) -> TResponseInputItem:
    return {"role": "user", "content": [{"type": "input_text", "text": text}]}


def assistant(text: str) -> TResponseInputItem:
    return {"role": "assistant", "content": text}


def searched(query: str, previous: str | None = None) -> TResponseInputItem:
    arguments = {"query": query} | ({"previous_question": previous} if previous else {})
    return {
        "type": "function_call",
        "call_id": "c1",
        "name": SEARCH_TOOL_NAME,
        "arguments": json.dumps(arguments),
    }


def after(earlier: str, message: str) -> Ask:
    """``message`` asked after a turn that searched ``earlier`` and was answered."""
    items = [user(earlier), searched(earlier), assistant("an answer"), user(message)]
    return resolve(items, search_tool=SEARCH_TOOL_NAME)


@pytest.mark.parametrize(
    ("question", "subjects"),
    [
        ("what is a VLA model?", ("VLA model",)),
        ("What's a digital twin", ("digital twin",)),
        ("what is a node in ROS 2?", ("node",)),
        ("whats a node", ("node",)),  # as typed in a chat
        ("topic vs service?", ("topic", "service")),
        ("what is the difference between a topic and a service?", ("topic", "service")),
        ("what does the ros_gz bridge do", ("ros_gz bridge",)),
        ("what are vision language action models like openvla", ("vision language action models",)),
        ("how do I write a publisher in python", ()),
        # Commas keep "difference between" from matching as a comparison: still no thing.
        ("what is the difference between a revolute, continuous and fixed joint", ()),
        # A clause is not a thing to define.
        ("what is the best way to make my robot walk faster over rough ground", ()),
    ],
)
def test_subjects_are_the_things_asked_about(question: str, subjects: tuple[str, ...]) -> None:
    assert subjects_of(question) == subjects


def test_a_first_message_stands_alone() -> None:
    ask = resolve([user("what is a topic?")], search_tool=SEARCH_TOOL_NAME)
    assert (ask.topic, ask.search_query, ask.previous_question) == (None, "what is a topic?", None)
    assert resolve("what is a topic?", search_tool=SEARCH_TOOL_NAME) == ask


@pytest.mark.parametrize(
    "follow_up",
    [
        "explain that more simply, with an example",
        "why does it matter?",
        "can you show me an example?",
        "how do I do that in code?",
        "why?",
    ],
)
def test_a_follow_up_naming_no_topic_is_searched_with_the_earlier_one(follow_up: str) -> None:
    ask = after("topic vs service?", follow_up)
    assert ask.topic == "topic vs service?" and not ask.names_topic
    assert ask.search_query == "topic vs service?"  # the same search, the same lesson
    assert ask.previous_question is None
    assert ask.continues_answer
    # What is defined comes from the topic: the follow-up names nothing.
    assert ask.subjects == ("topic", "service")


def test_a_follow_up_naming_a_new_thing_keeps_the_earlier_topic_at_a_lower_weight() -> None:
    ask = after("how do I add a camera to my simulated robot", "what about a laser scanner?")
    assert ask.search_query == "what about a laser scanner?"
    assert ask.previous_question == "how do I add a camera to my simulated robot"
    assert not ask.continues_answer  # a new thing: the answer may move to its lesson


def test_doing_something_with_the_answer_stays_in_its_lesson() -> None:
    ask = after("how do I write a publisher in python", "how do I run it?")
    assert ask.stays_in_lesson and ask.continues_answer
    assert ask.previous_question == "how do I write a publisher in python"
    assert ask.wants_steps


def test_a_new_question_is_not_a_follow_up() -> None:
    ask = after("what is a VLA model?", "what is a node in ROS 2?")
    assert ask.topic is None and ask.search_query == "what is a node in ROS 2?"


def test_chained_follow_ups_keep_the_first_topic() -> None:
    items = [
        user("what is a digital twin"),
        searched("what is a digital twin"),
        assistant("an answer"),
        user("explain it more simply"),
        searched("what is a digital twin"),
        assistant("a simpler answer"),
        user("and an example?"),
    ]
    assert resolve(items, search_tool=SEARCH_TOOL_NAME).search_query == "what is a digital twin"


def test_without_an_earlier_search_the_previous_message_is_the_topic() -> None:
    items = [user("what is a urdf file"), assistant("an answer"), user("show me an example")]
    ask = resolve(items, search_tool=SEARCH_TOOL_NAME)
    assert ask.search_query == "what is a urdf file"


@pytest.mark.parametrize(
    ("message", "simple", "code", "reason", "steps"),
    [
        ("explain that more simply", True, False, False, False),
        ("in plain words please", True, False, False, False),
        ("show me the code", False, True, False, False),
        ("why does it matter?", False, False, True, False),
        ("how do I install ROS 2 on ubuntu", False, False, False, True),
        ("what is a topic?", False, False, False, False),
    ],
)
def test_what_the_message_wants(
    message: str, simple: bool, code: bool, reason: bool, steps: bool
) -> None:
    ask = Ask(message)
    assert (ask.wants_simple, ask.wants_code, ask.wants_reason, ask.wants_steps) == (
        simple,
        code,
        reason,
        steps,
    )


def test_in_thread_history_a_chain_of_follow_ups_keeps_the_message_that_named_the_topic() -> None:
    # chatkit replays messages only: the topic is the latest message that named one.
    items = [
        user("what is a digital twin"),
        assistant("an answer"),
        user("explain it more simply"),
        assistant("a simpler answer"),
        user("and an example?"),
    ]
    assert resolve(items, search_tool=SEARCH_TOOL_NAME).search_query == "what is a digital twin"

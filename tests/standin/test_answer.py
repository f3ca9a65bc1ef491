"""The answer rule: which user text, which tool result, when to call ``search``."""

from __future__ import annotations

from typing import Any

import pytest

from robolearn.standin import StandInConfig, ToolCallPolicy
from robolearn.standin._answer import Api, TextAnswer, ToolCall, decide

SEARCH_CHAT = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
SEARCH_RESPONSES = [{"type": "function", "name": "search", "parameters": {}}]
CONFIG = StandInConfig(tokens=3)


def chat(*messages: dict[str, Any], tools: list[Any] | None = None) -> dict[str, Any]:
    return {"model": "m", "messages": list(messages), **({"tools": tools} if tools else {})}


def first_delta(answer: object) -> str:
    assert isinstance(answer, TextAnswer)
    return answer.deltas[0]


def test_text_answer_has_tokens_deltas() -> None:
    answer = decide("chat", chat({"role": "user", "content": "hello"}), StandInConfig())
    assert isinstance(answer, TextAnswer)
    assert answer.deltas == ("answer to: hello", *(f" t{i}" for i in range(1, 20)))


def test_last_user_message_and_text_parts() -> None:
    body = chat(
        {"role": "system", "content": "be brief"},
        {"role": "user", "content": "first"},
        {"role": "assistant", "content": "ok"},
        {
            "role": "user",
            "content": [
                {"type": "text", "text": "second"},
                {"type": "image_url", "image_url": {"url": "data:,"}},
                {"type": "text", "text": "part"},
            ],
        },
    )
    assert decide("chat", body, CONFIG) == TextAnswer(("answer to: second part", " t1", " t2"))


def test_responses_input_string_and_items() -> None:
    assert first_delta(decide("responses", {"input": "plain"}, CONFIG)) == "answer to: plain"
    body = {
        "input": [
            {"role": "user", "content": "old"},
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "new"}]},
        ]
    }
    assert first_delta(decide("responses", body, CONFIG)) == "answer to: new"


@pytest.mark.parametrize(
    ("text", "policy", "calls"),
    [
        ("please search ROS topics", "marker", True),
        ("SEARCH this", "marker", True),
        ("research robots", "marker", False),
        ("hello", "marker", False),
        ("hello", "always", True),
        ("please search", "never", False),
    ],
)
def test_tool_call_policy(text: str, policy: ToolCallPolicy, calls: bool) -> None:
    config = StandInConfig(tool_calls=policy)
    bodies: list[tuple[Api, dict[str, Any]]] = [
        ("chat", chat({"role": "user", "content": text}, tools=SEARCH_CHAT)),
        ("responses", {"input": text, "tools": SEARCH_RESPONSES}),
    ]
    for api, body in bodies:
        answer = decide(api, body, config)
        assert isinstance(answer, ToolCall) is calls, (api, text, policy)
        if isinstance(answer, ToolCall):
            assert answer.name == "search"
            assert answer.arguments == f'{{"query": "{text}"}}'
            assert len(answer.pieces) >= 2


def test_no_search_tool_means_text() -> None:
    other = [{"type": "function", "function": {"name": "lookup", "parameters": {}}}]
    body = chat({"role": "user", "content": "search it"}, tools=other)
    assert isinstance(decide("chat", body, StandInConfig(tool_calls="always")), TextAnswer)


def test_tool_result_after_last_user_message_is_quoted() -> None:
    output = "  lots   of\n\nresults " + "x" * 80
    said = " ".join(output.split())[:60]
    body = chat(
        {"role": "user", "content": "please search ROS"},
        {"role": "assistant", "tool_calls": [{"id": "c", "type": "function"}]},
        {"role": "tool", "tool_call_id": "c", "content": output},
        tools=SEARCH_CHAT,
    )
    answer = decide("chat", body, CONFIG)
    assert isinstance(answer, TextAnswer)
    assert answer.deltas[0] == f"answer to: please search ROS [tool said: {said}]"
    assert said.startswith("lots of results xxx")

    items = [
        {"role": "user", "content": "please search ROS"},
        {"type": "function_call", "call_id": "c", "name": "search", "arguments": "{}"},
        {"type": "function_call_output", "call_id": "c", "output": output},
    ]
    answer = decide("responses", {"input": items, "tools": SEARCH_RESPONSES}, CONFIG)
    assert isinstance(answer, TextAnswer)
    assert answer.deltas[0] == f"answer to: please search ROS [tool said: {said}]"


def test_tool_result_before_last_user_message_is_old_news() -> None:
    body = chat(
        {"role": "user", "content": "search one"},
        {"role": "tool", "tool_call_id": "c", "content": "old result"},
        {"role": "user", "content": "search two"},
        tools=SEARCH_CHAT,
    )
    assert isinstance(decide("chat", body, CONFIG), ToolCall)

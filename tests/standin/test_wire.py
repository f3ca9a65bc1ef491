"""The bytes the stand-in sends parse as the ``openai`` package's own types, strictly.

The SDK builds its objects without validation, so a missing field would only show up in a
client much later; here every chunk and event goes through pydantic validation.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic
import pytest
from openai.types.chat import ChatCompletion, ChatCompletionChunk
from openai.types.responses import Response, ResponseStreamEvent

from robolearn.standin import StandInConfig
from robolearn.standin._answer import decide
from robolearn.standin._chat import chat_script
from robolearn.standin._frames import HOLE, JsonTemplate, Script
from robolearn.standin._responses import responses_script

from ._sse import parse_sse

STREAM_EVENT = pydantic.TypeAdapter[ResponseStreamEvent](ResponseStreamEvent)
CONFIG = StandInConfig(tokens=4)
SEARCH_CHAT = [{"type": "function", "function": {"name": "search", "parameters": {}}}]
SEARCH_RESPONSES = [
    {"type": "function", "name": "search", "parameters": {}, "strict": False},
]


def chat(body: dict[str, Any], *, always_usage: bool = False) -> Script:
    answer = decide("chat", body, CONFIG)
    return chat_script(answer, body, tag="t1", prompt_tokens=7, always_usage=always_usage)


def responses(body: dict[str, Any]) -> Script:
    return responses_script(decide("responses", body, CONFIG), body, tag="t1", input_tokens=7)


def frames(script: Script) -> list[bytes]:
    return [*script.head, *script.deltas, *script.tail]


def chunks(script: Script) -> list[ChatCompletionChunk]:
    events = parse_sse(frames(script))
    assert events[-1].data == "[DONE]"
    assert all(event.event is None for event in events)
    return [ChatCompletionChunk.model_validate(event.json()) for event in events[:-1]]


def messages(text: str) -> list[dict[str, Any]]:
    return [{"role": "user", "content": text}]


@pytest.mark.parametrize("include_usage", [None, False, True])
def test_chat_stream_text(include_usage: bool | None) -> None:
    body: dict[str, Any] = {"model": "m", "stream": True, "messages": messages("hi")}
    if include_usage is not None:
        body["stream_options"] = {"include_usage": include_usage}
    script = chat(body)
    assert len(script.deltas) == 4
    parsed = chunks(script)
    assert parsed[0].choices[0].delta.role == "assistant"
    text = "".join(c.choices[0].delta.content or "" for c in parsed if c.choices)
    assert text == "answer to: hi t1 t2 t3"
    finishes = [c.choices[0].finish_reason for c in parsed if c.choices]
    assert finishes[-1] == "stop"
    assert finishes[:-1] == [None] * (len(finishes) - 1)
    if include_usage:
        assert parsed[-1].choices == []
        assert parsed[-1].usage is not None
        assert parsed[-1].usage.completion_tokens == 4
        assert parsed[-1].usage.total_tokens == 11
    else:
        assert all(c.usage is None and c.choices for c in parsed)
    assert {c.id for c in parsed} == {"chatcmpl-t1"}


def test_chat_usage_always() -> None:
    body = {"model": "m", "stream": True, "messages": messages("hi")}
    assert chunks(chat(body, always_usage=True))[-1].usage is not None


def test_chat_stream_tool_call() -> None:
    text = "please search ROS topics"
    body = {"model": "m", "stream": True, "messages": messages(text), "tools": SEARCH_CHAT}
    script = chat(body)
    parsed = chunks(script)
    calls = [call for c in parsed if c.choices for call in c.choices[0].delta.tool_calls or []]
    assert calls[0].id == "call_t1"
    assert calls[0].type == "function"
    assert calls[0].function is not None
    assert calls[0].function.name == "search"
    assert all(call.index == 0 for call in calls)
    pieces = [call.function.arguments for call in calls[1:] if call.function]
    assert len(pieces) == len(script.deltas) >= 2
    assert json.loads("".join(p or "" for p in pieces)) == {"query": text}
    assert parsed[-1].choices[0].finish_reason == "tool_calls"


def test_chat_not_streamed() -> None:
    body = {"model": "m", "messages": messages("hi")}
    script = chat(body)
    assert script.content_length == len(b"".join(script.tail))
    completion = ChatCompletion.model_validate_json(b"".join(frames(script)))
    assert completion.choices[0].message.content == "answer to: hi t1 t2 t3"
    assert completion.choices[0].finish_reason == "stop"
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 4

    body = {"model": "m", "messages": messages("search it"), "tools": SEARCH_CHAT}
    completion = ChatCompletion.model_validate_json(b"".join(frames(chat(body))))
    choice = completion.choices[0]
    assert choice.finish_reason == "tool_calls"
    assert choice.message.tool_calls is not None
    call = choice.message.tool_calls[0]
    assert call.type == "function"
    assert call.function.name == "search"
    assert json.loads(call.function.arguments) == {"query": "search it"}


def stream_events(script: Script) -> list[Any]:
    events = parse_sse(frames(script))
    parsed = [STREAM_EVENT.validate_python(event.json()) for event in events]
    assert [event.event for event in events] == [event.type for event in parsed]
    assert [event.sequence_number for event in parsed] == list(range(len(parsed)))
    return parsed


def test_responses_stream_text() -> None:
    script = responses({"model": "m", "stream": True, "input": "hi", "tools": SEARCH_RESPONSES})
    parsed = stream_events(script)
    assert [event.type for event in parsed] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
        *["response.output_text.delta"] * 4,
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
        "response.completed",
    ]
    assert len(script.deltas) == 4
    assert parsed[2].item.type == "message"
    assert parsed[2].item.status == "in_progress"
    text = "".join(event.delta for event in parsed[4:8])
    assert text == parsed[8].text == "answer to: hi t1 t2 t3"
    completed = parsed[-1].response
    assert completed.status == "completed"
    assert completed.output_text == text
    assert completed.usage.output_tokens == 4
    assert completed.usage.total_tokens == 11
    assert completed.usage.input_tokens_details.cached_tokens == 0
    assert completed.usage.output_tokens_details.reasoning_tokens == 0


def test_responses_stream_tool_call() -> None:
    text = "please search ROS topics"
    script = responses({"model": "m", "stream": True, "input": text, "tools": SEARCH_RESPONSES})
    parsed = stream_events(script)
    kinds = [event.type for event in parsed]
    deltas = kinds.count("response.function_call_arguments.delta")
    assert deltas >= 2
    assert kinds == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        *["response.function_call_arguments.delta"] * deltas,
        "response.function_call_arguments.done",
        "response.output_item.done",
        "response.completed",
    ]
    added = parsed[2].item
    assert (added.type, added.name, added.arguments) == ("function_call", "search", "")
    assert added.call_id == "call_t1"
    arguments = "".join(event.delta for event in parsed[3 : 3 + deltas])
    assert json.loads(arguments) == {"query": text}
    assert parsed[-3].arguments == arguments
    (call,) = parsed[-1].response.output
    assert (call.type, call.call_id, call.arguments) == ("function_call", "call_t1", arguments)


def test_responses_not_streamed() -> None:
    script = responses({"model": "m", "input": "hi"})
    response = Response.model_validate_json(b"".join(frames(script)))
    assert response.status == "completed"
    assert response.output_text == "answer to: hi t1 t2 t3"
    assert response.usage is not None
    assert response.usage.output_tokens == 4


def test_template_fills_holes_in_order() -> None:
    template = JsonTemplate({"a": HOLE, "b": [1, {"c": HOLE}]})
    assert template.holes == 2
    filled = template.fill("7", json.dumps('q"uote \u00e9\n'))
    assert json.loads(filled) == {"a": 7, "b": [1, {"c": 'q"uote \u00e9\n'}]}
    with pytest.raises(ValueError, match="2 holes"):
        template.fill("1")

"""The real ``openai`` SDK talks to the stand-in over HTTP as to OpenAI.

The sync client runs in a worker thread (``trio.to_thread.run_sync``); the raw-HTTP tests
validate the bytes on the wire with the SDK's pydantic types.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
import openai
import pydantic
import pytest
import trio
from openai.types.chat import ChatCompletionChunk
from openai.types.responses import ResponseStreamEvent

from robolearn.standin import StandIn

from ._sse import parse_sse

STREAM_EVENT = pydantic.TypeAdapter[ResponseStreamEvent](ResponseStreamEvent)
SEARCH_CHAT: list[Any] = [
    {
        "type": "function",
        "function": {
            "name": "search",
            "parameters": {"type": "object", "properties": {"query": {"type": "string"}}},
        },
    }
]
SEARCH_RESPONSES: list[Any] = [
    {"type": "function", "name": "search", "parameters": {"type": "object"}, "strict": False}
]


def user(text: str) -> list[Any]:
    return [{"role": "user", "content": text}]


async def test_models(standin: StandIn, sdk: openai.OpenAI) -> None:
    page = await trio.to_thread.run_sync(sdk.models.list)
    assert [model.id for model in page.data] == ["standin"]
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.get(f"{standin.base_url}/models")
    assert response.json() == {
        "object": "list",
        "data": [{"id": "standin", "object": "model", "created": 0, "owned_by": "robolearn"}],
    }


@pytest.mark.parametrize("include_usage", [False, True])
async def test_chat_stream(standin: StandIn, sdk: openai.OpenAI, include_usage: bool) -> None:
    def run() -> list[ChatCompletionChunk]:
        stream = sdk.chat.completions.create(
            model="standin",
            messages=user("How do ROS 2 topics work?"),
            stream=True,
            stream_options={"include_usage": include_usage},
        )
        with stream:
            return list(stream)

    chunks = await trio.to_thread.run_sync(run)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert text == "answer to: How do ROS 2 topics work?" + "".join(f" t{i}" for i in range(1, 20))
    assert chunks[0].choices[0].delta.role == "assistant"
    usage = [c.usage for c in chunks if c.usage is not None]
    if include_usage:
        assert chunks[-1].choices == []
        assert usage == [chunks[-1].usage]
        assert usage[0].completion_tokens == 20
    else:
        assert usage == []
    record = await standin.wait_stream(0)
    assert (record.outcome, record.deltas, record.stream) == ("completed", 20, True)


async def test_chat_not_streamed(standin: StandIn, sdk: openai.OpenAI) -> None:
    completion = await trio.to_thread.run_sync(
        lambda: sdk.chat.completions.create(model="standin", messages=user("hi"))
    )
    assert completion.object == "chat.completion"
    assert completion.choices[0].message.content == "answer to: hi" + "".join(
        f" t{i}" for i in range(1, 20)
    )
    assert completion.usage is not None
    assert completion.usage.completion_tokens == 20


async def test_responses_stream(standin: StandIn, sdk: openai.OpenAI) -> None:
    await standin.configure(tokens=3, delay_ms=0)

    def run() -> list[Any]:
        with sdk.responses.create(model="standin", input="hello", stream=True) as stream:
            return list(stream)

    events = await trio.to_thread.run_sync(run)
    assert [e.type for e in events][:4] == [
        "response.created",
        "response.in_progress",
        "response.output_item.added",
        "response.content_part.added",
    ]
    assert [e.delta for e in events if e.type == "response.output_text.delta"] == [
        "answer to: hello",
        " t1",
        " t2",
    ]
    completed = events[-1]
    assert completed.type == "response.completed"
    assert completed.response.output_text == "answer to: hello t1 t2"
    assert completed.response.usage.output_tokens == 3


async def test_responses_not_streamed(standin: StandIn, sdk: openai.OpenAI) -> None:
    await standin.configure(tokens=2)
    response = await trio.to_thread.run_sync(
        lambda: sdk.responses.create(
            model="standin", input=[{"role": "user", "content": "hi"}], instructions="be kind"
        )
    )
    assert response.status == "completed"
    assert response.output_text == "answer to: hi t1"
    assert response.instructions == "be kind"


async def test_wire_bytes_validate(standin: StandIn) -> None:
    """Over real HTTP, every chunk and event parses strictly as the SDK's types."""
    await standin.configure(tokens=5, delay_ms=0)
    async with httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http:
        for text in ["hello", "please search it"]:
            chat = await http.post(
                "/chat/completions",
                json={
                    "model": "standin",
                    "stream": True,
                    "stream_options": {"include_usage": True},
                    "messages": user(text),
                    "tools": SEARCH_CHAT,
                },
            )
            assert chat.headers["content-type"] == "text/event-stream"
            events = parse_sse([chat.content])
            assert events[-1].data == "[DONE]"
            for event in events[:-1]:
                ChatCompletionChunk.model_validate(event.json())

            responses = await http.post(
                "/responses",
                json={"model": "standin", "stream": True, "input": text, "tools": SEARCH_RESPONSES},
            )
            events = parse_sse([responses.content])
            parsed = [STREAM_EVENT.validate_python(event.json()) for event in events]
            assert [e.sequence_number for e in parsed] == list(range(len(parsed)))
            assert parsed[-1].type == "response.completed"


async def test_chat_tool_call_then_tool_result(standin: StandIn, sdk: openai.OpenAI) -> None:
    await standin.configure(delay_ms=0)
    text = "please search ROS topics"

    def run() -> tuple[Any, str]:
        stream = sdk.chat.completions.create(
            model="standin", messages=user(text), tools=SEARCH_CHAT, stream=True
        )
        with stream:
            chunks = list(stream)
        calls = [t for c in chunks if c.choices for t in c.choices[0].delta.tool_calls or []]
        call_id = calls[0].id
        arguments = "".join(t.function.arguments or "" for t in calls if t.function)
        assert chunks[-1].choices[0].finish_reason == "tool_calls"
        assert json.loads(arguments) == {"query": text}
        follow_up: list[Any] = [
            *user(text),
            {
                "role": "assistant",
                "tool_calls": [
                    {
                        "id": call_id,
                        "type": "function",
                        "function": {"name": "search", "arguments": arguments},
                    }
                ],
            },
            {"role": "tool", "tool_call_id": call_id, "content": "Topics are named\n  buses."},
        ]
        answer = sdk.chat.completions.create(model="standin", messages=follow_up, tools=SEARCH_CHAT)
        return answer, arguments

    answer, _ = await trio.to_thread.run_sync(run)
    assert answer.choices[0].message.content.startswith(
        f"answer to: {text} [tool said: Topics are named buses.] t1"
    )


async def test_responses_tool_call_then_tool_result(standin: StandIn, sdk: openai.OpenAI) -> None:
    await standin.configure(delay_ms=0)
    text = "please search ROS topics"

    def run() -> Any:
        first = sdk.responses.create(model="standin", input=text, tools=SEARCH_RESPONSES)
        (call,) = first.output
        assert call.type == "function_call"
        assert json.loads(call.arguments) == {"query": text}
        follow_up: list[Any] = [
            *user(text),
            call.model_dump(exclude_none=True),
            {"type": "function_call_output", "call_id": call.call_id, "output": "Named buses."},
        ]
        with sdk.responses.create(
            model="standin", input=follow_up, tools=SEARCH_RESPONSES, stream=True
        ) as stream:
            return list(stream)[-1]

    completed = await trio.to_thread.run_sync(run)
    assert completed.type == "response.completed"
    assert completed.response.output_text.startswith(
        f"answer to: {text} [tool said: Named buses.] t1"
    )


async def test_transcription(standin: StandIn, sdk: openai.OpenAI) -> None:
    audio = bytes(range(256)) * 3 + b"\r\n--not-a-boundary\r\n\n\r"
    result = await trio.to_thread.run_sync(
        lambda: sdk.audio.transcriptions.create(
            model="whisper-1", file=("clip.webm", audio, "audio/webm")
        )
    )
    assert result.text == f"transcribed {len(audio)} bytes of audio/webm"
    assert await standin.requests() == []  # not a model request


async def test_unknown_route_is_openai_404(standin: StandIn, sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        await trio.to_thread.run_sync(lambda: sdk.embeddings.create(model="standin", input="hi"))
    assert caught.value.status_code == 404
    assert caught.value.type == "not_found_error"
    async with httpx.AsyncClient(trust_env=False) as http:
        response = await http.delete(f"{standin.base_url}/models")
    assert response.status_code == 404
    assert set(response.json()["error"]) >= {"message", "type", "code"}

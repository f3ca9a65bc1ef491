"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

Responses API stream events for the models implemented here (scripted, local tutor).

The Agents SDK and chatkit read these events exactly as they read a real model's, so the
offline models go through the same pipeline (tool calls, stream conversion, persistence).
"""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator, Iterator
from typing import Any, cast

import attrs
from agents.items import TResponseOutputItem, TResponseStreamEvent
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseFunctionCallArgumentsDeltaEvent,
    ResponseFunctionCallArgumentsDoneEvent,
    ResponseFunctionToolCall,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)

__all__ = ["MESSAGE_ID", "ResponseStream", "function_call", "message", "response"]

# Chat Completions models give every message this id; the server must mint real ones.
MESSAGE_ID = "__fake_id__"
DEFAULT_RESPONSE_ID = "resp_robolearn"


@attrs.define(eq=False)
class ResponseStream:
    """The events of one model response, numbered in order.

    Output items are collected as they finish, so :meth:`completed` reports them all, as
    the Agents SDK expects of the final event.
    """

    response_id: str = DEFAULT_RESPONSE_ID
    output: list[TResponseOutputItem] = attrs.field(factory=list)
    _seq: Iterator[int] = attrs.field(factory=itertools.count, init=False)

    def created(self) -> TResponseStreamEvent:
        return _event(
            ResponseCreatedEvent(
                type="response.created",
                response=response([], "in_progress", self.response_id),
                sequence_number=next(self._seq),
            )
        )

    def completed(self) -> TResponseStreamEvent:
        return _event(
            ResponseCompletedEvent(
                type="response.completed",
                response=response(list(self.output), "completed", self.response_id),
                sequence_number=next(self._seq),
            )
        )

    async def message(self, deltas: AsyncIterator[str]) -> AsyncIterator[TResponseStreamEvent]:
        """An assistant text message, streamed as ``deltas`` come."""
        index = len(self.output)
        yield _event(
            ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=message("", status="in_progress"),
                output_index=index,
                sequence_number=next(self._seq),
            )
        )
        yield _event(
            ResponseContentPartAddedEvent(
                type="response.content_part.added",
                item_id=MESSAGE_ID,
                output_index=index,
                content_index=0,
                part=_text(""),
                sequence_number=next(self._seq),
            )
        )
        parts: list[str] = []
        async for delta in deltas:
            parts.append(delta)
            yield _event(
                ResponseTextDeltaEvent(
                    type="response.output_text.delta",
                    item_id=MESSAGE_ID,
                    output_index=index,
                    content_index=0,
                    delta=delta,
                    logprobs=[],
                    sequence_number=next(self._seq),
                )
            )
        text = "".join(parts)
        yield _event(
            ResponseTextDoneEvent(
                type="response.output_text.done",
                item_id=MESSAGE_ID,
                output_index=index,
                content_index=0,
                text=text,
                logprobs=[],
                sequence_number=next(self._seq),
            )
        )
        yield _event(
            ResponseContentPartDoneEvent(
                type="response.content_part.done",
                item_id=MESSAGE_ID,
                output_index=index,
                content_index=0,
                part=_text(text),
                sequence_number=next(self._seq),
            )
        )
        done = message(text)
        self.output.append(done)
        yield _event(
            ResponseOutputItemDoneEvent(
                type="response.output_item.done",
                item=done,
                output_index=index,
                sequence_number=next(self._seq),
            )
        )

    def function_call(self, call: ResponseFunctionToolCall) -> list[TResponseStreamEvent]:
        """A function call, its arguments streamed in one piece."""
        index = len(self.output)
        item_id = call.id or call.call_id
        self.output.append(call)
        return [
            _event(
                ResponseOutputItemAddedEvent(
                    type="response.output_item.added",
                    item=call.model_copy(update={"arguments": "", "status": "in_progress"}),
                    output_index=index,
                    sequence_number=next(self._seq),
                )
            ),
            _event(
                ResponseFunctionCallArgumentsDeltaEvent(
                    type="response.function_call_arguments.delta",
                    item_id=item_id,
                    output_index=index,
                    delta=call.arguments,
                    sequence_number=next(self._seq),
                )
            ),
            _event(
                # Older openai versions require ``name``; newer ones keep it as an extra.
                ResponseFunctionCallArgumentsDoneEvent.model_validate(
                    {
                        "type": "response.function_call_arguments.done",
                        "item_id": item_id,
                        "output_index": index,
                        "arguments": call.arguments,
                        "name": call.name,
                        "sequence_number": next(self._seq),
                    }
                )
            ),
            _event(
                ResponseOutputItemDoneEvent(
                    type="response.output_item.done",
                    item=call,
                    output_index=index,
                    sequence_number=next(self._seq),
                )
            ),
        ]


def message(text: str, *, status: str = "completed") -> ResponseOutputMessage:
    """An assistant message item (empty content while in progress)."""
    return ResponseOutputMessage(
        id=MESSAGE_ID,
        type="message",
        role="assistant",
        status=cast(Any, status),
        content=[_text(text)] if status == "completed" else [],
    )


def function_call(name: str, arguments: str, call_id: str) -> ResponseFunctionToolCall:
    """A completed function call item."""
    return ResponseFunctionToolCall(
        type="function_call",
        id=f"fc_{call_id}",
        call_id=call_id,
        name=name,
        arguments=arguments,
        status="completed",
    )


def response(output: list[Any], status: str, response_id: str = DEFAULT_RESPONSE_ID) -> Response:
    """A Responses API response envelope."""
    return Response(
        id=response_id,
        created_at=0,
        model="robolearn-local",
        object="response",
        output=output,
        tool_choice="auto",
        tools=[],
        top_p=None,
        parallel_tool_calls=False,
        status=cast(Any, status),
    )


def _event(event: object) -> TResponseStreamEvent:
    return cast(TResponseStreamEvent, event)


def _text(text: str) -> ResponseOutputText:
    return ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])

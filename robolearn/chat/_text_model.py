"""Agents SDK models that stream plain text: the deterministic scripted model and a base for
the offline local model.

Both speak the Responses event protocol the Agents SDK expects from any model, so the rest of
the pipeline (chatkit's stream conversion, persistence) is exactly the one real models use.
"""

from __future__ import annotations

import abc
import itertools
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from openai.types.responses import (
    Response,
    ResponseCompletedEvent,
    ResponseContentPartAddedEvent,
    ResponseContentPartDoneEvent,
    ResponseCreatedEvent,
    ResponseOutputItemAddedEvent,
    ResponseOutputItemDoneEvent,
    ResponseOutputMessage,
    ResponseOutputText,
    ResponseTextDeltaEvent,
    ResponseTextDoneEvent,
)
from openai.types.responses.response_prompt_param import ResponsePromptParam

from robolearn import _aio

__all__ = ["ScriptedTokensModel", "TextStreamModel", "last_user_text"]

# Chat Completions models give every message this id; the server must mint real ones.
_MESSAGE_ID = "__fake_id__"


class TextStreamModel(Model, abc.ABC):
    """A model whose whole answer is text produced by :meth:`text_deltas`."""

    @abc.abstractmethod
    def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        """The answer, in the pieces it should stream in."""

    async def get_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> ModelResponse:
        text = "".join([d async for d in self.text_deltas(system_instructions, input)])
        return ModelResponse(output=[_message(text)], usage=Usage(), response_id=None)

    async def stream_response(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        model_settings: ModelSettings,
        tools: list[Tool],
        output_schema: AgentOutputSchemaBase | None,
        handoffs: list[Handoff],
        tracing: ModelTracing,
        *,
        previous_response_id: str | None,
        conversation_id: str | None,
        prompt: ResponsePromptParam | None,
    ) -> AsyncIterator[TResponseStreamEvent]:
        seq = itertools.count()
        yield _event(
            ResponseCreatedEvent(
                type="response.created",
                response=_response([], "in_progress"),
                sequence_number=next(seq),
            )
        )
        yield _event(
            ResponseOutputItemAddedEvent(
                type="response.output_item.added",
                item=_message("", status="in_progress"),
                output_index=0,
                sequence_number=next(seq),
            )
        )
        yield _event(
            ResponseContentPartAddedEvent(
                type="response.content_part.added",
                item_id=_MESSAGE_ID,
                output_index=0,
                content_index=0,
                part=_text(""),
                sequence_number=next(seq),
            )
        )
        parts: list[str] = []
        async for delta in self.text_deltas(system_instructions, input):
            parts.append(delta)
            yield _event(
                ResponseTextDeltaEvent(
                    type="response.output_text.delta",
                    item_id=_MESSAGE_ID,
                    output_index=0,
                    content_index=0,
                    delta=delta,
                    logprobs=[],
                    sequence_number=next(seq),
                )
            )
        text = "".join(parts)
        yield _event(
            ResponseTextDoneEvent(
                type="response.output_text.done",
                item_id=_MESSAGE_ID,
                output_index=0,
                content_index=0,
                text=text,
                logprobs=[],
                sequence_number=next(seq),
            )
        )
        yield _event(
            ResponseContentPartDoneEvent(
                type="response.content_part.done",
                item_id=_MESSAGE_ID,
                output_index=0,
                content_index=0,
                part=_text(text),
                sequence_number=next(seq),
            )
        )
        message = _message(text)
        yield _event(
            ResponseOutputItemDoneEvent(
                type="response.output_item.done",
                item=message,
                output_index=0,
                sequence_number=next(seq),
            )
        )
        yield _event(
            ResponseCompletedEvent(
                type="response.completed",
                response=_response([message], "completed"),
                sequence_number=next(seq),
            )
        )


class ScriptedTokensModel(TextStreamModel):
    """Deterministic answers for load tests: ``answer to: <user text>`` then filler tokens.

    The echoed user text lets a load generator check from outside that each answer belongs
    to the message it followed; ``delay`` spaces the deltas like a real model's.
    """

    def __init__(self, tokens: int = 50, delay: float = 0.005) -> None:
        self._tokens = tokens
        self._delay = delay

    async def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        yield f"answer to: {last_user_text(input)}"
        for n in range(1, self._tokens):
            if self._delay > 0:
                await _aio.sleep(self._delay)
            yield f" t{n}"


def last_user_text(input: str | Sequence[TResponseInputItem]) -> str:
    """The text of the newest user message in a model input."""
    if isinstance(input, str):
        return input
    for item in reversed(input):
        entry = cast(dict[str, Any], item)
        if entry.get("role") != "user":
            continue
        content = entry.get("content")
        if isinstance(content, str):
            return content
        texts = [
            part.get("text", "")
            for part in content or []
            if isinstance(part, dict) and part.get("type") == "input_text"
        ]
        return "".join(texts)
    return ""


def _event(event: object) -> TResponseStreamEvent:
    return cast(TResponseStreamEvent, event)


def _text(text: str) -> ResponseOutputText:
    return ResponseOutputText(type="output_text", text=text, annotations=[], logprobs=[])


def _message(text: str, *, status: str = "completed") -> ResponseOutputMessage:
    return ResponseOutputMessage(
        id=_MESSAGE_ID,
        type="message",
        role="assistant",
        status=cast(Any, status),
        content=[_text(text)] if status == "completed" else [],
    )


def _response(output: list[Any], status: str) -> Response:
    return Response(
        id="resp_robolearn",
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

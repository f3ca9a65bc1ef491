"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

Agents SDK models that stream plain text: the deterministic scripted model and a base for
other text-only models (test models).

They speak the Responses event protocol (:mod:`._responses`) the Agents SDK expects from any
model, so the rest of the pipeline (chatkit's stream conversion, persistence) is exactly the
one real models use.
"""

from __future__ import annotations

import abc
from collections.abc import AsyncIterator, Sequence
from typing import Any, cast

from agents.agent_output import AgentOutputSchemaBase
from agents.handoffs import Handoff
from agents.items import ModelResponse, TResponseInputItem, TResponseStreamEvent
from agents.model_settings import ModelSettings
from agents.models.interface import Model, ModelTracing
from agents.tool import Tool
from agents.usage import Usage
from openai.types.responses.response_prompt_param import ResponsePromptParam

from robolearn import _aio

from ._responses import ResponseStream

__all__ = ["ScriptedTokensModel", "TextStreamModel", "last_user_text"]


class StreamingModel(Model, abc.ABC):
    """A model defined by the Responses events it streams; the non-streamed answer is the
    output of its ``response.completed`` event."""

    @abc.abstractmethod
    def events(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
    ) -> AsyncIterator[TResponseStreamEvent]:
        """The whole response, from ``response.created`` to ``response.completed``."""

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
        output: list[Any] = []
        async for event in self.events(system_instructions, input, tools):
            if event.type == "response.completed":
                output = list(event.response.output)
        return ModelResponse(output=output, usage=Usage(), response_id=None)

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
        async for event in self.events(system_instructions, input, tools):
            yield event


class TextStreamModel(StreamingModel):
    """A model whose whole answer is text produced by :meth:`text_deltas`."""

    @abc.abstractmethod
    def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        """The answer, in the pieces it should stream in."""

    async def events(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
    ) -> AsyncIterator[TResponseStreamEvent]:
        stream = ResponseStream()
        yield stream.created()
        async for event in stream.message(self.text_deltas(system_instructions, input)):
            yield event
        yield stream.completed()


class ScriptedTokensModel(TextStreamModel):
    """Deterministic answers for load tests: ``answer to: <user text>`` then filler tokens.

    The echoed user text lets a load generator check from outside that each answer belongs
    to the message it followed.

    ``delay`` sets the model's pace as a real one has it: token n is ready ``n * delay``
    seconds after the first, however busy the reader is. A reader that comes late finds the
    tokens that came due meanwhile, and gets them back to back, as a real model's stream
    delivers what piled up in the socket. (Sleeping ``delay`` after each token instead would
    let a busy server slow the model down with it.)

    ``echo_history`` adds `` [history N]`` to the first delta: N items of history came
    before the user's message in the model's input, so a test can see from outside what a
    turn was given.
    """

    def __init__(self, tokens: int = 50, delay: float = 0.005, echo_history: bool = False) -> None:
        self._tokens = tokens
        self._delay = delay
        self._echo_history = echo_history

    async def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        first = f"answer to: {last_user_text(input)}"
        if self._echo_history:
            first += f" [history {0 if isinstance(input, str) else len(input) - 1}]"
        yield first
        due = _aio.loop_time()
        for n in range(1, self._tokens):
            if self._delay > 0:
                due += self._delay
                wait = due - _aio.loop_time()
                if wait > 0:
                    await _aio.sleep(wait)
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

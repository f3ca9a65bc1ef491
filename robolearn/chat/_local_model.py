"""The offline tutor: an Agents SDK model that searches the book and quotes it, cited.

Used when no OpenAI key is configured, and in tests. It behaves like a tool-calling model
so the whole pipeline is the real one:

1. First model call of a turn (no search output after the newest user message yet): it
   calls ``search_robolearn_content`` with the student's question.
2. Next call (the search output is in the input): it composes an extractive answer from
   the findings (:mod:`._answer`) and streams it in small word groups, like a real model.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Sequence
from typing import Any, Final, cast

import attrs
from agents.items import TResponseInputItem, TResponseStreamEvent
from agents.tool import Tool
from openai.types.responses import ResponseFunctionToolCall

from robolearn import _aio

from ._answer import compose_answer
from ._responses import ResponseStream, function_call
from ._text_model import StreamingModel, last_user_text
from ._tool import SEARCH_TOOL_NAME, SearchFindings

__all__ = ["LocalTutorModel", "Reply", "SearchCall", "next_step"]

_WORD: Final = re.compile(r"\s*\S+")
# build_instructions (._prompt) lists the open page as "- Title: ..." under this line.
_PAGE_TITLE: Final = re.compile(
    r"The student is reading this lesson now.*?^- Title: (?P<title>.+?)$", re.DOTALL | re.M
)
_NO_QUESTION: Final = (
    "Ask me anything about the RoboLearn textbook (ROS 2, Gazebo, Isaac Sim, "
    "vision-language-action models) and I'll answer from the book, with the lessons to read."
)
_NO_SEARCH: Final = (
    "I can only answer from the RoboLearn textbook, and its search is not available on this "
    "server right now."
)


@attrs.frozen
class SearchCall:
    """Step 1: search the book for ``query``."""

    query: str


@attrs.frozen
class Reply:
    """Step 2 (or the only step): say ``text``."""

    text: str


def next_step(
    system_instructions: str | None,
    input: str | Sequence[TResponseInputItem],
    tool_names: Sequence[str],
) -> SearchCall | Reply:
    """What the local model does given this model input (pure; unit-testable)."""
    question = last_user_text(input).strip()
    if not question:
        return Reply(_NO_QUESTION)
    output = _search_output(input)
    if output is not None:
        return Reply(
            compose_answer(
                question,
                SearchFindings.from_json(output),
                reading=_page_title(system_instructions),
            )
        )
    if SEARCH_TOOL_NAME not in tool_names:
        return Reply(_NO_SEARCH)
    return SearchCall(question)


class LocalTutorModel(StreamingModel):
    """The offline tutor model; ``delay`` seconds between deltas of ``words_per_delta`` words."""

    def __init__(self, *, delay: float = 0.015, words_per_delta: int = 3) -> None:
        if words_per_delta < 1:
            raise ValueError(f"words_per_delta must be at least 1, got {words_per_delta}")
        self._delay = delay
        self._words_per_delta = words_per_delta

    async def events(
        self,
        system_instructions: str | None,
        input: str | list[TResponseInputItem],
        tools: list[Tool],
    ) -> AsyncIterator[TResponseStreamEvent]:
        step = next_step(system_instructions, input, _names(tools))
        stream = ResponseStream(response_id=f"resp_{uuid.uuid4().hex}")
        yield stream.created()
        if isinstance(step, SearchCall):
            for event in stream.function_call(_call(step)):
                yield event
        else:
            async for event in stream.message(self._deltas(step.text)):
                yield event
        yield stream.completed()

    async def _deltas(self, text: str) -> AsyncIterator[str]:
        words = _WORD.findall(text)
        for start in range(0, len(words), self._words_per_delta):
            if start and self._delay > 0:
                await _aio.sleep(self._delay)
            yield "".join(words[start : start + self._words_per_delta])


def _call(step: SearchCall) -> ResponseFunctionToolCall:
    return function_call(
        SEARCH_TOOL_NAME, json.dumps({"query": step.query}), f"call_{uuid.uuid4().hex}"
    )


def _names(tools: Sequence[Tool]) -> list[str]:
    return [str(getattr(tool, "name", "")) for tool in tools]


def _search_output(input: str | Sequence[TResponseInputItem]) -> str | None:
    """The output of this turn's search call, if it was made after the newest user message."""
    if isinstance(input, str):
        return None
    items = [cast(dict[str, Any], item) for item in input]
    last_user = max((i for i, item in enumerate(items) if item.get("role") == "user"), default=-1)
    calls = {
        item.get("call_id")
        for item in items[last_user + 1 :]
        if item.get("type") == "function_call" and item.get("name") == SEARCH_TOOL_NAME
    }
    for item in reversed(items[last_user + 1 :]):
        if item.get("type") == "function_call_output" and item.get("call_id") in calls:
            return _output_text(item.get("output"))
    return None


def _output_text(output: object) -> str:
    if isinstance(output, str):
        return output
    if isinstance(output, list):  # structured tool output: its text parts
        return "".join(str(part.get("text", "")) for part in output if isinstance(part, dict))
    return ""


def _page_title(system_instructions: str | None) -> str | None:
    match = _PAGE_TITLE.search(system_instructions or "")
    if match is None or match["title"] == "unknown":
        return None
    return match["title"].strip()

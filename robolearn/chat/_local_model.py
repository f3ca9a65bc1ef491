"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

The offline tutor: an Agents SDK model that searches the book and quotes it, cited.

Used when no OpenAI key is configured, and in tests. It behaves like a tool-calling model
so the whole pipeline is the real one:

1. First model call of a turn (no search output after the newest user message yet): it
   resolves the student's message against the conversation (:mod:`._question`: a
   follow-up such as "explain that more simply" keeps the earlier topic) and calls
   ``search_robolearn_content`` with it, as a real model would write its own query.
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
from ._question import resolve
from ._responses import ResponseStream, function_call
from ._text_model import StreamingModel
from ._tool import SEARCH_TOOL_NAME, SearchFindings

__all__ = ["LocalTutorModel", "Reply", "SearchCall", "next_step"]

_WORD: Final = re.compile(r"\s*\S+")
_LINK: Final = re.compile(r"\]\((https?://[^)\s]+)\)")
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
    """Step 1: search the book for ``query`` (following up on ``previous``, if set)."""

    query: str
    previous: str | None = None


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
    ask = resolve(input, search_tool=SEARCH_TOOL_NAME)
    if not ask.text:
        return Reply(_NO_QUESTION)
    items = [] if isinstance(input, str) else [cast(dict[str, Any], item) for item in input]
    last_user = max((i for i, item in enumerate(items) if item.get("role") == "user"), default=-1)
    earlier, current = items[: max(last_user, 0)], items[last_user + 1 :]
    # Thread history holds the messages, not the tool calls: the earlier answer's first
    # source says which lesson answered.
    before = _first_source(earlier) if ask.continues_answer else None
    output = _search_output(current)
    if output is not None:
        findings = SearchFindings.from_json(output)
        return Reply(
            compose_answer(
                ask,
                _staying_with(findings, before),
                reading=_page_title(system_instructions),
                said=_assistant_text(earlier),
            )
        )
    if SEARCH_TOOL_NAME not in tool_names:
        return Reply(_NO_SEARCH)
    return SearchCall(ask.search_query, ask.previous_question)


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
    arguments = {"query": step.query}
    if step.previous is not None:
        arguments["previous_question"] = step.previous
    return function_call(SEARCH_TOOL_NAME, json.dumps(arguments), f"call_{uuid.uuid4().hex}")


def _names(tools: Sequence[Tool]) -> list[str]:
    return [str(getattr(tool, "name", "")) for tool in tools]


def _search_output(items: Sequence[dict[str, Any]]) -> str | None:
    """The output of the last search call among ``items`` (this turn's, after the newest
    user message, or an earlier turn's)."""
    calls = {
        item.get("call_id")
        for item in items
        if item.get("type") == "function_call" and item.get("name") == SEARCH_TOOL_NAME
    }
    for item in reversed(items):
        if item.get("type") == "function_call_output" and item.get("call_id") in calls:
            return _output_text(item.get("output"))
    return None


def _first_source(earlier: Sequence[dict[str, Any]]) -> str | None:
    """The URL the previous answer cited first: the lesson that answered it."""
    answers = [item for item in earlier if item.get("role") == "assistant"]
    cited = _LINK.search(_assistant_text(answers[-1:]))
    return cited[1] if cited else None


def _staying_with(findings: SearchFindings, url: str | None) -> SearchFindings:
    """``findings`` with the lesson at ``url`` (the one that answered before) first, if
    found again: a follow-up's own words must not move the answer elsewhere."""
    if url is None:
        return findings
    again = [result for result in findings.results if result.url == url]
    others = [result for result in findings.results if result.url != url]
    return attrs.evolve(findings, results=tuple(again + others))


def _assistant_text(items: Sequence[dict[str, Any]]) -> str:
    """What the assistant said in ``items`` (earlier answers), as one text."""
    texts = []
    for item in items:
        if item.get("role") != "assistant":
            continue
        content = item.get("content")
        if isinstance(content, str):
            texts.append(content)
        elif isinstance(content, list):
            texts += [str(part.get("text", "")) for part in content if isinstance(part, dict)]
    return "\n".join(texts)


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

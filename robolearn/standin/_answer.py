"""What the stand-in answers to a request: deterministic, from the request alone.

Both APIs are read into the same three facts (the last user text, the latest tool result
after it, the search tool offered if any: the first function tool whose name contains
``search``, such as ``search`` or robolearn's ``search_robolearn_content``), and one rule
turns them into an `Answer`: a text whose deltas are known in advance, or a call of that
search tool. The wire
formats live in ``_chat`` and ``_responses``; nothing here knows about bytes or pacing.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any, Literal

import attrs

from ._config import StandInConfig

__all__ = ["Answer", "Api", "TextAnswer", "ToolCall", "decide"]

Api = Literal["chat", "responses"]

_SEARCH_TOOL = re.compile(r"search", re.IGNORECASE)
_MARKER = re.compile(r"\bsearch\b", re.IGNORECASE)
_TOOL_SAID_CHARS = 60
# Tool-call arguments stream in pieces of at most this many characters (always >= 2 pieces).
_ARGUMENT_PIECE = 8


@attrs.frozen
class TextAnswer:
    """A text answer, already cut into the deltas that will be sent."""

    deltas: tuple[str, ...]

    @property
    def text(self) -> str:
        return "".join(self.deltas)


@attrs.frozen
class ToolCall:
    """A call of the search tool ``name``; ``pieces`` are its JSON arguments as streamed."""

    name: str
    pieces: tuple[str, ...]

    @property
    def arguments(self) -> str:
        return "".join(self.pieces)


Answer = TextAnswer | ToolCall


@attrs.frozen
class _Facts:
    user_text: str
    tool_output: str | None  # the latest tool result after the last user message
    search_tool: str | None  # the name of the search tool offered, if any


def decide(api: Api, body: Mapping[str, Any], config: StandInConfig) -> Answer:
    """The answer to a chat-completions or responses request ``body``."""
    facts = _chat_facts(body) if api == "chat" else _responses_facts(body)
    if facts.search_tool and facts.tool_output is None and _wants_tool(facts, config):
        return ToolCall(facts.search_tool, _pieces(json.dumps({"query": facts.user_text})))
    first = f"answer to: {facts.user_text}"
    if facts.tool_output is not None:
        said = " ".join(facts.tool_output.split())[:_TOOL_SAID_CHARS]
        first += f" [tool said: {said}]"
    return TextAnswer((first, *(f" t{i}" for i in range(1, config.tokens))))


def _wants_tool(facts: _Facts, config: StandInConfig) -> bool:
    if config.tool_calls == "marker":
        return _MARKER.search(facts.user_text) is not None
    return config.tool_calls == "always"


def _pieces(arguments: str) -> tuple[str, ...]:
    size = min(_ARGUMENT_PIECE, max(1, len(arguments) // 2))
    return tuple(arguments[i : i + size] for i in range(0, len(arguments), size))


def _text_of(content: object, part_type: str) -> str:
    """A message's text: the string itself, or its parts of ``part_type`` joined by spaces."""
    if isinstance(content, str):
        return content
    if isinstance(content, Sequence):
        return " ".join(
            str(part.get("text", ""))
            for part in content
            if isinstance(part, Mapping) and part.get("type") == part_type
        )
    return ""


def _last_index(items: Sequence[object], is_user: Callable[[object], bool]) -> int:
    for index in range(len(items) - 1, -1, -1):
        if is_user(items[index]):
            return index
    return -1


def _chat_facts(body: Mapping[str, Any]) -> _Facts:
    messages = body.get("messages")
    messages = messages if isinstance(messages, list) else []

    def is_user(message: object) -> bool:
        return isinstance(message, Mapping) and message.get("role") == "user"

    last_user = _last_index(messages, is_user)
    user_text = _text_of(messages[last_user].get("content"), "text") if last_user >= 0 else ""
    tool_output = None
    for message in messages[last_user + 1 :]:
        if isinstance(message, Mapping) and message.get("role") == "tool":
            tool_output = _text_of(message.get("content"), "text")
    tools = body.get("tools")
    names = [
        tool["function"].get("name")
        for tool in (tools if isinstance(tools, list) else [])
        if isinstance(tool, Mapping)
        and tool.get("type", "function") == "function"
        and isinstance(tool.get("function"), Mapping)
    ]
    return _Facts(user_text, tool_output, _search_tool(names))


def _responses_facts(body: Mapping[str, Any]) -> _Facts:
    items = body.get("input")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    items = items if isinstance(items, list) else []

    def is_user(item: object) -> bool:
        return (
            isinstance(item, Mapping)
            and item.get("role") == "user"
            and item.get("type", "message") == "message"
        )

    last_user = _last_index(items, is_user)
    user_text = _text_of(items[last_user].get("content"), "input_text") if last_user >= 0 else ""
    tool_output = None
    for item in items[last_user + 1 :]:
        if isinstance(item, Mapping) and item.get("type") == "function_call_output":
            tool_output = _text_of(item.get("output"), "input_text")
    tools = body.get("tools")
    names = [
        tool.get("name")
        for tool in (tools if isinstance(tools, list) else [])
        if isinstance(tool, Mapping) and tool.get("type") == "function"
    ]
    return _Facts(user_text, tool_output, _search_tool(names))


def _search_tool(names: Sequence[object]) -> str | None:
    return next(
        (name for name in names if isinstance(name, str) and _SEARCH_TOOL.search(name)), None
    )

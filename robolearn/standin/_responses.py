"""The Responses wire format (``POST /v1/responses``), streamed or not.

Streamed, as OpenAI sends it: ``response.created`` and ``response.in_progress``; the output
item opened (a message with its content part, or a ``function_call``); its deltas; the
matching ``.done`` events; then ``response.completed`` carrying the whole response. Every
event has ``event:`` and ``data:`` lines and a ``sequence_number`` counting from 0.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ._answer import Answer, TextAnswer
from ._frames import HOLE, JsonTemplate, Script, dumps, sse

__all__ = ["responses_script"]

_TEXT_DELTA = "response.output_text.delta"
_ARGUMENTS_DELTA = "response.function_call_arguments.delta"


def responses_script(
    answer: Answer, body: Mapping[str, Any], *, tag: str, input_tokens: int
) -> Script:
    """What to send for a responses request ``body`` answered with ``answer``."""
    pieces = answer.deltas if isinstance(answer, TextAnswer) else answer.pieces
    usage = {
        "input_tokens": input_tokens,
        "input_tokens_details": {"cached_tokens": 0, "cache_write_tokens": 0},
        "output_tokens": len(pieces),
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": input_tokens + len(pieces),
    }
    response = _response(body, tag)
    item, item_id = _item(answer, tag, done=True)
    completed = {**response, "status": "completed", "output": [item], "usage": usage}
    if body.get("stream") is not True:
        return Script.body("application/json", dumps(completed).encode())

    events = _Events()
    events.add("response.created", response=response)
    events.add("response.in_progress", response=response)
    opened, _ = _item(answer, tag, done=False)
    where = {"item_id": item_id, "output_index": 0}
    events.add("response.output_item.added", output_index=0, item=opened)
    if isinstance(answer, TextAnswer):
        part = {"type": "output_text", "text": "", "annotations": [], "logprobs": []}
        events.add("response.content_part.added", **where, content_index=0, part=part)
        delta_type = _TEXT_DELTA
        delta_fields = {**where, "content_index": 0, "delta": HOLE, "logprobs": []}
    else:
        delta_type = _ARGUMENTS_DELTA
        delta_fields = {**where, "delta": HOLE}
    head = events.take()

    template = JsonTemplate({"type": delta_type, "sequence_number": HOLE, **delta_fields})
    first = len(head)
    deltas = [
        sse(template.fill(str(first + i), dumps(piece)), delta_type)
        for i, piece in enumerate(pieces)
    ]
    events.skip(len(deltas))

    if isinstance(answer, TextAnswer):
        text = answer.text
        events.add("response.output_text.done", **where, content_index=0, text=text, logprobs=[])
        part = item["content"][0]
        events.add("response.content_part.done", **where, content_index=0, part=part)
    else:
        events.add("response.function_call_arguments.done", **where, arguments=answer.arguments)
    events.add("response.output_item.done", output_index=0, item=item)
    events.add("response.completed", response=completed)
    return Script(
        content_type="text/event-stream",
        head=head,
        deltas=deltas,
        tail=events.take(),
        cut_counts_frames=True,
    )


class _Events:
    """Numbers events as they are added, and hands them out as SSE frames."""

    def __init__(self) -> None:
        self._next = 0
        self._frames: list[bytes] = []

    def add(self, event_type: str, **fields: Any) -> None:
        doc = {"type": event_type, "sequence_number": self._next, **fields}
        self._frames.append(sse(dumps(doc), event_type))
        self._next += 1

    def skip(self, count: int) -> None:
        """Leave ``count`` sequence numbers to frames built elsewhere (the deltas)."""
        self._next += count

    def take(self) -> list[bytes]:
        frames, self._frames = self._frames, []
        return frames


def _response(body: Mapping[str, Any], tag: str) -> dict[str, Any]:
    """The response object while in progress; requests' settings echoed as OpenAI does."""
    tools = body.get("tools")
    return {
        "id": f"resp_{tag}",
        "object": "response",
        "created_at": int(time.time()),
        "status": "in_progress",
        "error": None,
        "incomplete_details": None,
        "instructions": body.get("instructions"),
        "model": body.get("model") if isinstance(body.get("model"), str) else "standin",
        "output": [],
        "parallel_tool_calls": body.get("parallel_tool_calls", True) is not False,
        "previous_response_id": body.get("previous_response_id"),
        "tool_choice": body.get("tool_choice") or "auto",
        "tools": tools if isinstance(tools, list) else [],
        "text": {"format": {"type": "text"}},
        "truncation": "disabled",
        "usage": None,
        "metadata": {},
    }


def _item(answer: Answer, tag: str, *, done: bool) -> tuple[dict[str, Any], str]:
    """The output item as opened (empty, in progress) or finished; and its id."""
    status = "completed" if done else "in_progress"
    if isinstance(answer, TextAnswer):
        item_id = f"msg_{tag}"
        content = []
        if done:
            text = answer.text
            content = [{"type": "output_text", "text": text, "annotations": [], "logprobs": []}]
        message = {
            "id": item_id,
            "type": "message",
            "role": "assistant",
            "status": status,
            "content": content,
        }
        return message, item_id
    item_id = f"fc_{tag}"
    call = {
        "id": item_id,
        "type": "function_call",
        "call_id": f"call_{tag}",
        "name": answer.name,
        "arguments": answer.arguments if done else "",
        "status": status,
    }
    return call, item_id

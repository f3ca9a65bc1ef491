"""The Chat Completions wire format (``POST /v1/chat/completions``), streamed or not.

Streamed, as OpenAI sends it: a role chunk, content deltas (or one tool-call chunk naming
the function and then its arguments in pieces), a chunk with ``finish_reason``, the usage
chunk (``choices: []``) when asked for, and ``data: [DONE]``.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from ._answer import Answer, TextAnswer
from ._frames import HOLE, JsonTemplate, Script, dumps, sse

__all__ = ["chat_script"]

_DONE = b"data: [DONE]\n\n"


def chat_script(
    answer: Answer,
    body: Mapping[str, Any],
    *,
    tag: str,
    prompt_tokens: int,
    always_usage: bool,
) -> Script:
    """What to send for a chat-completions request ``body`` answered with ``answer``."""
    model = body.get("model") if isinstance(body.get("model"), str) else "standin"
    base = {
        "id": f"chatcmpl-{tag}",
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
    }
    is_text = isinstance(answer, TextAnswer)
    pieces = answer.deltas if isinstance(answer, TextAnswer) else answer.pieces
    usage = {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": len(pieces),
        "total_tokens": prompt_tokens + len(pieces),
    }
    finish_reason = "stop" if is_text else "tool_calls"
    if body.get("stream") is not True:
        doc = _completion(base, answer, usage, finish_reason, call_id=f"call_{tag}")
        return Script.body("application/json", doc)

    def chunk(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
        choice = {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}
        return {**base, "choices": [choice]}

    head = [sse(dumps(chunk({"role": "assistant", "content": "" if is_text else None})))]
    if isinstance(answer, TextAnswer):
        template = JsonTemplate(chunk({"content": HOLE}))
    else:
        declare = {"index": 0, "id": f"call_{tag}", "type": "function"}
        declare["function"] = {"name": answer.name, "arguments": ""}
        head.append(sse(dumps(chunk({"tool_calls": [declare]}))))
        template = JsonTemplate(
            chunk({"tool_calls": [{"index": 0, "function": {"arguments": HOLE}}]})
        )
    deltas = [sse(template.fill(dumps(piece))) for piece in pieces]
    tail = [sse(dumps(chunk({}, finish_reason)))]
    options = body.get("stream_options")
    if always_usage or (isinstance(options, Mapping) and options.get("include_usage") is True):
        tail.append(sse(dumps({**base, "choices": [], "usage": usage})))
    tail.append(_DONE)
    return Script(
        content_type="text/event-stream",
        head=head,
        deltas=deltas,
        tail=tail,
        cut_counts_frames=False,
    )


def _completion(
    base: Mapping[str, Any],
    answer: Answer,
    usage: Mapping[str, int],
    finish_reason: str,
    *,
    call_id: str,
) -> bytes:
    message: dict[str, Any] = {"role": "assistant", "content": None, "refusal": None}
    if isinstance(answer, TextAnswer):
        message["content"] = answer.text
    else:
        call = {"name": answer.name, "arguments": answer.arguments}
        message["tool_calls"] = [{"id": call_id, "type": "function", "function": call}]
    choice = {"index": 0, "message": message, "logprobs": None, "finish_reason": finish_reason}
    doc = {**base, "object": "chat.completion", "choices": [choice], "usage": usage}
    return dumps(doc).encode()

"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

Text deltas that arrive close together reach chatkit as one delta.

Every delta a model streams costs the same trip downstream, whatever its length: an Agents SDK
stream event, chatkit's conversion (a task per event), a pydantic event, its JSON, the
persistence wrappers, an SSE write. Models stream a token or two at a time, far faster than a
reader reads, so merging the deltas of a short window keeps the answer's text exactly as it
was and its pace as the reader sees it, at a fraction of the cost per answer.

No timer is involved: a delta goes out at once when nothing went out for ``window`` seconds;
otherwise it waits for the next event of the stream (the next delta, the end of the text, a
tool call), and goes out with it once the window has passed. So the first delta of an answer
is never held, and a held one waits at most for the model's next event.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Callable
from typing import Any

from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model
from openai.types.responses import ResponseTextDeltaEvent

__all__ = ["CoalescingModel", "coalesce_text_deltas"]


class CoalescingModel(Model):
    """``inner``, with the text deltas of its streamed answers merged per ``window`` seconds."""

    def __init__(
        self, inner: Model, window: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.inner = inner
        self._window = window
        self._clock = clock

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await self.inner.get_response(*args, **kwargs)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return coalesce_text_deltas(
            self.inner.stream_response(*args, **kwargs), self._window, self._clock
        )

    async def close(self) -> None:
        await self.inner.close()


async def coalesce_text_deltas(
    events: AsyncIterator[TResponseStreamEvent],
    window: float,
    clock: Callable[[], float] = time.monotonic,
) -> AsyncIterator[TResponseStreamEvent]:
    """``events`` with consecutive text deltas of one content part merged (see the module)."""
    held: list[ResponseTextDeltaEvent] = []
    last_out = -float("inf")
    async for event in events:
        now = clock()
        if isinstance(event, ResponseTextDeltaEvent) and (not held or _same_part(held[0], event)):
            held.append(event)
            if now - last_out >= window:
                yield _merged(held)
                held = []
                last_out = now
            continue
        if held:
            yield _merged(held)
            held = []
            last_out = now
        if isinstance(event, ResponseTextDeltaEvent):
            held.append(event)  # a delta of another part starts its own group
            continue
        yield event
    if held:
        yield _merged(held)


def _same_part(a: ResponseTextDeltaEvent, b: ResponseTextDeltaEvent) -> bool:
    return (a.item_id, a.output_index, a.content_index) == (
        b.item_id,
        b.output_index,
        b.content_index,
    )


def _merged(deltas: list[ResponseTextDeltaEvent]) -> ResponseTextDeltaEvent:
    if len(deltas) == 1:
        return deltas[0]
    last = deltas[-1]
    return last.model_copy(
        update={
            "delta": "".join(delta.delta for delta in deltas),
            "logprobs": [logprob for delta in deltas for logprob in delta.logprobs],
        }
    )

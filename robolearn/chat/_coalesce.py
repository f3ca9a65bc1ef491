"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

Text deltas that would wait anyway reach chatkit as one delta.

Every delta a model streams costs the same trip downstream, whatever its length: an Agents SDK
stream event, chatkit's conversion (a task per event), a pydantic event, its JSON, the
persistence wrappers, an SSE write. When a streamed answer's bytes go out is decided in one
place, the bridge's pump (``ROBOLEARN_STREAM_FLUSH_MS``: after a batch, what comes within that
window goes with the next). A delta made while the pump holds could not reach the reader any
sooner, so it is merged with the next one here, before all that work, instead of after it.

No timer and no window of its own: a held delta goes out with the stream's next event (the
next delta, the end of the text, a tool call) that comes when the pump no longer holds, or
that is not a delta of the same part. A delta let go is on its way to the pump for a while
(the Agents SDK, chatkit): the pump is told, so that what comes meanwhile waits to go with
the next batch rather than after it. Outside a pump, or with no window, nothing is merged.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from typing import Any

from agents.items import ModelResponse, TResponseStreamEvent
from agents.models.interface import Model
from openai.types.responses import ResponseTextDeltaEvent

from robolearn._aio import stream_is_held, stream_released

__all__ = ["CoalescingModel", "coalesce_text_deltas"]


class CoalescingModel(Model):
    """``inner``, with the text deltas of its streamed answers merged while the pump holds."""

    def __init__(
        self,
        inner: Model,
        held: Callable[[], bool] = stream_is_held,
        released: Callable[[], None] = stream_released,
    ) -> None:
        self.inner = inner
        self._held = held
        self._released = released

    async def get_response(self, *args: Any, **kwargs: Any) -> ModelResponse:
        return await self.inner.get_response(*args, **kwargs)

    def stream_response(self, *args: Any, **kwargs: Any) -> AsyncIterator[TResponseStreamEvent]:
        return coalesce_text_deltas(
            self.inner.stream_response(*args, **kwargs), self._held, self._released
        )

    async def close(self) -> None:
        await self.inner.close()


async def coalesce_text_deltas(
    events: AsyncIterator[TResponseStreamEvent],
    held: Callable[[], bool],
    released: Callable[[], None] = lambda: None,
) -> AsyncIterator[TResponseStreamEvent]:
    """``events`` with consecutive text deltas of one content part merged while ``held()``;
    ``released()`` is told of each delta let go while nothing was held (see the module)."""
    pending: list[ResponseTextDeltaEvent] = []
    async for event in events:
        if pending and not (
            isinstance(event, ResponseTextDeltaEvent) and _same_part(pending[0], event)
        ):
            yield _merged(pending)
            pending = []
        if not isinstance(event, ResponseTextDeltaEvent):
            yield event
            continue
        pending.append(event)
        if not held():
            released()
            yield _merged(pending)
            pending = []
    if pending:
        yield _merged(pending)


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

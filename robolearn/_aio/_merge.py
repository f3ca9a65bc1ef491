"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

chatkit's merge of the agent's events with its tools' events, one task per source; installed
in chatkit (or not) by ``robolearn._patches._chatkit``, which says why and what it gained.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator
from typing import Any, TypeVar

import outcome

__all__ = ["merge_in_step"]

_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")


async def merge_in_step(a: AsyncIterator[_T1], b: AsyncIterator[_T2]) -> AsyncIterator[_T1 | _T2]:
    """Items of ``a`` and ``b`` as they come, until either ends: chatkit's ``_merge_generators``
    with one task per source instead of one per item.

    chatkit merges the agent's events with those its tools emit by starting a task for every
    ``__anext__``: a task, a ``wait`` and their callbacks per streamed event. Here each source
    has one task for the whole merge, and the same rules hold: a source is asked for its next
    item only once its last one has been taken (so neither runs ahead of the reader), items
    come in the order they arrived, a source's error is raised when its turn comes, and when
    one source ends, an item the other already had is still passed on. Leaving early (error,
    cancellation) cancels both tasks.
    """
    loop = asyncio.get_running_loop()
    arrived: deque[tuple[int, outcome.Outcome[Any] | None]] = deque()  # None: it ended
    waiting: asyncio.Future[None] | None = None  # the reader's, while it waits for an item
    asked: list[asyncio.Future[None] | None] = [None, None]

    async def pull(index: int, source: AsyncIterator[Any]) -> None:
        while True:
            result: outcome.Outcome[Any] | None
            try:
                result = outcome.Value(await source.__anext__())
            except StopAsyncIteration:
                result = None
            except BaseException as exc:  # CancelledError too: the reader must hear of it
                result = outcome.Error(exc)
            arrived.append((index, result))
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            if not isinstance(result, outcome.Value):
                return
            asked[index] = ask = loop.create_future()
            await ask

    pullers = [asyncio.ensure_future(pull(0, a)), asyncio.ensure_future(pull(1, b))]
    try:
        while True:
            while not arrived:
                waiting = loop.create_future()
                await waiting
            index, result = arrived.popleft()
            if result is None:
                for _, other in arrived:
                    if other is not None:
                        yield other.unwrap()
                return
            yield result.unwrap()
            next_please = asked[index]
            # Done already only if its task was cancelled from outside (the pump's reaping).
            if next_please is not None and not next_please.done():
                next_please.set_result(None)
    finally:
        for puller in pullers:
            puller.cancel()

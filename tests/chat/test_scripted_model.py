"""The scripted load-test model keeps its own pace, as a real model does."""

from __future__ import annotations

import trio
import trio.testing
import trio_asyncio

from robolearn import _aio
from robolearn.chat import ScriptedTokensModel


async def _read(model: ScriptedTokensModel, pause_after: int) -> list[tuple[float, str]]:
    start, seen = _aio.loop_time(), []
    async for delta in model.text_deltas(None, "hi"):
        seen.append((round(_aio.loop_time() - start, 6), delta))
        if len(seen) == pause_after:
            await _aio.sleep(3.5)  # a busy reader
    return seen


async def test_tokens_come_at_the_models_pace_and_a_late_reader_finds_them_ready(
    autojump_clock: trio.testing.MockClock,
) -> None:
    model = ScriptedTokensModel(tokens=8, delay=1.0)
    async with _aio.open_asyncio_loop():
        seen = await trio_asyncio.aio_as_trio(_read)(model, 2)
    assert seen == [
        (0, "answer to: hi"),
        (1, " t1"),
        # The reader was away from 1 to 4.5: t2, t3 and t4 came due meanwhile.
        (4.5, " t2"),
        (4.5, " t3"),
        (4.5, " t4"),
        (5, " t5"),
        (6, " t6"),
        (7, " t7"),
    ]

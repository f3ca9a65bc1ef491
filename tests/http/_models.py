"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

Test models: record what the tutor sends the model, answer deterministically."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import attrs
from agents.items import TResponseInputItem

from robolearn import _aio
from robolearn.chat import TextStreamModel
from robolearn.chat._text_model import last_user_text


@attrs.frozen
class Call:
    instructions: str | None
    input: list[Any]


class RecordingModel(TextStreamModel):
    """Answers ``answer to: <text>`` in ``tokens`` deltas ``delay`` s apart; records each call."""

    def __init__(self, tokens: int = 6, delay: float = 0.0) -> None:
        self.calls: list[Call] = []
        self.tokens = tokens
        self.delay = delay
        self.deltas = 0  # yielded so far, over all calls: tests wait for an answer under way

    async def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        self.calls.append(
            Call(system_instructions, list(input) if not isinstance(input, str) else [input])
        )
        self.deltas += 1
        yield f"answer to: {last_user_text(input)}"
        for n in range(1, self.tokens):
            if self.delay:
                await _aio.sleep(self.delay)
            self.deltas += 1
            yield f" t{n}"

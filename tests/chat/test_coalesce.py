"""Text deltas merged per window: same text, same order, the first delta never held."""

from __future__ import annotations

from collections.abc import AsyncIterator

from agents.items import TResponseStreamEvent
from openai.types.responses import ResponseTextDeltaEvent, ResponseTextDoneEvent

from robolearn.chat._coalesce import coalesce_text_deltas


def _delta(text: str, seq: int, item: str = "msg_1", part: int = 0) -> ResponseTextDeltaEvent:
    return ResponseTextDeltaEvent(
        type="response.output_text.delta",
        item_id=item,
        output_index=0,
        content_index=part,
        delta=text,
        logprobs=[],
        sequence_number=seq,
    )


def _done(seq: int) -> ResponseTextDoneEvent:
    return ResponseTextDoneEvent(
        type="response.output_text.done",
        item_id="msg_1",
        output_index=0,
        content_index=0,
        text="",
        logprobs=[],
        sequence_number=seq,
    )


class Clock:
    """Time as the test sets it: each event arrives at the time given with it."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


async def _run(
    timed: list[tuple[float, TResponseStreamEvent]], window: float
) -> list[tuple[float, str]]:
    clock = Clock()

    async def events() -> AsyncIterator[TResponseStreamEvent]:
        for at, event in timed:
            clock.now = at
            yield event

    out = []
    async for event in coalesce_text_deltas(events(), window, clock):
        text = event.delta if isinstance(event, ResponseTextDeltaEvent) else f"<{event.type}>"
        out.append((clock.now, text))
    return out


async def test_fast_deltas_go_out_once_per_window_and_the_first_at_once() -> None:
    timed: list[tuple[float, TResponseStreamEvent]] = [
        (round(n * 0.005, 3), _delta(f"t{n} ", n)) for n in range(10)
    ]
    timed.append((0.05, _done(10)))
    out = await _run(timed, window=0.02)
    assert out == [
        (0.0, "t0 "),
        (0.02, "t1 t2 t3 t4 "),
        (0.04, "t5 t6 t7 t8 "),
        (0.05, "t9 "),
        (0.05, "<response.output_text.done>"),
    ]


async def test_slow_deltas_are_never_held() -> None:
    timed: list[tuple[float, TResponseStreamEvent]] = [
        (round(n * 0.05, 3), _delta(f"t{n}", n)) for n in range(4)
    ]
    out = await _run(timed, window=0.02)
    assert out == [(0.0, "t0"), (0.05, "t1"), (0.1, "t2"), (0.15, "t3")]


async def test_the_text_is_kept_exactly_and_parts_are_not_mixed() -> None:
    timed: list[tuple[float, TResponseStreamEvent]] = [
        (0.0, _delta("a", 0)),
        (0.001, _delta("b", 1)),
        (0.002, _delta("c", 2, part=1)),
        (0.003, _delta("d", 3, part=1)),
        (0.004, _delta("e", 4, part=1)),
    ]
    out = await _run(timed, window=0.02)
    # "b" waits for the next event, which belongs to another part: it goes out then, alone.
    assert out == [(0.0, "a"), (0.002, "b"), (0.004, "cde")]


async def test_merged_deltas_keep_the_last_sequence_number() -> None:
    clock = Clock()

    async def events() -> AsyncIterator[TResponseStreamEvent]:
        for n in range(3):
            yield _delta("x", n)

    merged = [event async for event in coalesce_text_deltas(events(), 1.0, clock)]
    assert [(e.delta, e.sequence_number) for e in merged] == [("x", 0), ("xx", 2)]  # type: ignore[union-attr]

"""Text deltas merged while the pump holds: same text, same order, nothing merged otherwise."""

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


async def _run(timed: list[tuple[bool, TResponseStreamEvent]]) -> list[tuple[int, str]]:
    """Each event with whether the pump holds when it comes; what goes out, after which
    event (by index)."""
    now = 0
    holds = [held for held, _ in timed]

    async def events() -> AsyncIterator[TResponseStreamEvent]:
        nonlocal now
        for now, (_, event) in enumerate(timed):  # noqa: B007 (read by `held`)
            yield event

    out = []
    async for event in coalesce_text_deltas(events(), lambda: holds[now]):
        text = event.delta if isinstance(event, ResponseTextDeltaEvent) else f"<{event.type}>"
        out.append((now, text))
    return out


async def test_deltas_made_while_the_pump_holds_go_out_as_one() -> None:
    holding = [False, True, True, True, False, True, True, False, False]
    timed: list[tuple[bool, TResponseStreamEvent]] = [
        (held, _delta(f"t{n} ", n)) for n, held in enumerate(holding)
    ]
    timed.append((True, _done(9)))
    assert await _run(timed) == [
        (0, "t0 "),
        (4, "t1 t2 t3 t4 "),
        (7, "t5 t6 t7 "),
        (8, "t8 "),
        (9, "<response.output_text.done>"),
    ]


async def test_deltas_are_never_merged_while_the_pump_does_not_hold() -> None:
    timed: list[tuple[bool, TResponseStreamEvent]] = [(False, _delta(f"t{n}", n)) for n in range(4)]
    assert await _run(timed) == [(0, "t0"), (1, "t1"), (2, "t2"), (3, "t3")]


async def test_the_text_is_kept_exactly_and_parts_are_not_mixed() -> None:
    timed: list[tuple[bool, TResponseStreamEvent]] = [
        (False, _delta("a", 0)),
        (True, _delta("b", 1)),
        (True, _delta("c", 2, part=1)),
        (True, _delta("d", 3, part=1)),
        (True, _delta("e", 4, part=1)),
    ]
    # "b" waits for the next event, which belongs to another part: it goes out then, alone;
    # the held rest goes when the stream ends.
    assert await _run(timed) == [(0, "a"), (2, "b"), (4, "cde")]


async def test_merged_deltas_keep_the_last_sequence_number() -> None:
    async def events() -> AsyncIterator[TResponseStreamEvent]:
        for n in range(3):
            yield _delta("x", n)

    holds = iter([False, True, True])
    merged = [event async for event in coalesce_text_deltas(events(), lambda: next(holds))]
    assert [(e.delta, e.sequence_number) for e in merged] == [("x", 0), ("xx", 2)]  # type: ignore[union-attr]


async def test_the_pump_is_told_of_each_delta_let_go_while_nothing_was_held() -> None:
    holding = iter([False, True, True, False, False])
    released: list[int] = []

    async def events() -> AsyncIterator[TResponseStreamEvent]:
        for n in range(5):
            yield _delta("x", n)

    out = coalesce_text_deltas(events(), lambda: next(holding), lambda: released.append(1))
    merged = [event.delta async for event in out]  # type: ignore[union-attr]
    assert merged == ["x", "xxx", "x"]
    assert len(released) == 3

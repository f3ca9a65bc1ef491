"""Pacing, write batching, faults and disconnects of one answer, on trio's MockClock.

`play` runs in-process against a fake ASGI ``send``/``receive``, so the schedule can be
checked to the (virtual) millisecond without real sleeps.
"""

from __future__ import annotations

from typing import Any

import attrs
import pytest
import trio
from trio.testing import MockClock

from robolearn.standin import Fault, HangAfter, Stall, StandInConfig
from robolearn.standin._answer import decide
from robolearn.standin._chat import chat_script
from robolearn.standin._ledger import Ledger
from robolearn.standin._player import play

BODY = {"model": "m", "stream": True, "messages": [{"role": "user", "content": "hi"}]}


@attrs.define
class FakeClient:
    """Records what the app sends, with the virtual time; can be slow, and can leave."""

    write_time: float = 0.0
    writes: list[tuple[float, dict[str, Any]]] = attrs.field(factory=list)
    left: trio.Event = attrs.field(factory=trio.Event)

    async def send(self, message: Any) -> None:
        self.writes.append((trio.current_time(), message))
        if message["type"] == "http.response.body" and self.write_time:
            await trio.sleep(self.write_time)

    async def receive(self) -> Any:
        await self.left.wait()
        return {"type": "http.disconnect"}

    def bodies(self) -> list[tuple[float, bytes]]:
        return [(t, m["body"]) for t, m in self.writes if m["type"] == "http.response.body"]


def ledger_for(*, tokens: int, delay: float) -> Ledger:
    return Ledger(StandInConfig(tokens=tokens, delay_ms=delay * 1000))


async def answer(client: FakeClient, ledger: Ledger, fault: Fault | None = None) -> None:
    """Record one chat request in ``ledger`` and play its answer to ``client``."""
    exchange, _, config = ledger.record("/v1/chat/completions", None, BODY, stream=True)
    script = chat_script(
        decide("chat", BODY, config), BODY, tag="x", prompt_tokens=1, always_usage=False
    )
    await play(
        script,
        fault,
        exchange=exchange,
        ledger=ledger,
        delay=config.delay,
        receive=client.receive,
        send=client.send,
    )


async def test_deltas_follow_the_deadline_schedule(autojump_clock: MockClock) -> None:
    client = FakeClient()
    start = trio.current_time()
    ledger = ledger_for(tokens=5, delay=0.01)
    await answer(client, ledger)
    bodies = client.bodies()
    # Role chunk at once, delta n at n * 10 ms, then the tail and the end in one write.
    assert [round(t - start, 6) for t, _ in bodies] == [0, 0.01, 0.02, 0.03, 0.04, 0.05, 0.05]
    assert [body.count(b"data: ") for _, body in bodies] == [1, 1, 1, 1, 1, 1, 2]
    assert client.writes[-1][1]["more_body"] is False
    (record,) = ledger.streams()
    assert (record.outcome, record.deltas) == ("completed", 5)


async def test_slow_writes_batch_due_deltas_instead_of_falling_behind(
    autojump_clock: MockClock,
) -> None:
    client = FakeClient(write_time=0.025)
    start = trio.current_time()
    await answer(client, ledger_for(tokens=10, delay=0.01))
    bodies = client.bodies()
    deltas = [body for _, body in bodies if b'"content":"' in body and b"role" not in body]
    assert 1 < len(deltas) < 10
    assert sum(body.count(b"data: ") for body in deltas) == 10
    text = b"".join(deltas)
    assert text.index(b"answer to: hi") < text.index(b" t1") < text.index(b" t9")
    # Writes start every 25 ms (the write time), not 10 ms later each: the answer ends
    # within one write of its schedule (10 * 10 ms).
    assert bodies[-1][0] - start <= 0.1 + 0.025 + 1e-9


async def test_stall_holds_the_headers(autojump_clock: MockClock) -> None:
    client = FakeClient()
    start = trio.current_time()
    await answer(client, ledger_for(tokens=2, delay=0.01), Stall(3.0))
    first_time, first = client.writes[0]
    assert first["type"] == "http.response.start"
    assert first_time - start == pytest.approx(3.0)


async def test_hang_waits_for_the_client_to_leave(autojump_clock: MockClock) -> None:
    client = FakeClient()
    ledger = ledger_for(tokens=10, delay=0.01)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(answer, client, ledger, HangAfter(2))
        await trio.sleep(60)  # virtual: nothing more is sent however long it hangs
        assert len(client.bodies()) == 3  # the role chunk and 2 deltas
        assert ledger.streams()[0].outcome == "hung"
        client.left.set()
    (record,) = ledger.streams()
    assert (record.outcome, record.deltas) == ("client_closed", 2)

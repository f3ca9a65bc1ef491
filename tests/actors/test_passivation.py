"""Passivation: idle actors stop and leave the registry; no message is lost on the way."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from robolearn.actors import ActorSettings, ReplySender, open_actor_system

from ._probe import Probe, collect

IDLE = 10.0


async def test_idle_actor_is_passivated_and_reactivated(autojump_clock: MockClock) -> None:
    probe = Probe()
    async with open_actor_system(probe.factory, ActorSettings(idle_timeout=IDLE)) as system:
        assert await collect(system.request("k", 1)) == [("k", 1)]
        await trio.sleep(IDLE - 1)
        assert system.statistics().live_actors == 1
        # Activity resets the idle timer.
        assert await collect(system.request("k", 2)) == [("k", 2)]
        await trio.sleep(IDLE - 1)
        assert system.actor_statistics("k") is not None

        await trio.sleep(1.5)
        assert system.actor_statistics("k") is None
        stats = system.statistics()
        assert (stats.live_actors, stats.passivations, stats.activations) == (0, 1, 1)
        assert probe.kinds("k") == ["start", "handle", "done", "handle", "done", "stop"]

        assert await collect(system.request("k", 3)) == [("k", 3)]
        stats = system.statistics()
        assert (stats.live_actors, stats.activations) == (1, 2)
    assert probe.kinds("k")[-4:] == ["start", "handle", "done", "stop"]


async def test_message_arriving_while_actor_stops_is_processed(autojump_clock: MockClock) -> None:
    stopping = trio.Event()
    finish_stop = trio.Event()

    async def slow_stop(key: str) -> None:
        if not stopping.is_set():
            stopping.set()
            await finish_stop.wait()

    probe = Probe(on_stop=slow_stop)
    async with open_actor_system(probe.factory, ActorSettings(idle_timeout=IDLE)) as system:
        assert await collect(system.request("k", 1)) == [("k", 1)]
        await stopping.wait()
        # The actor is inside on_stop (passivating); it is still registered, so this
        # message goes to its mailbox rather than to a second, concurrent actor.
        late = system.request("k", 2)
        assert system.statistics().live_actors == 1
        await wait_all_tasks_blocked()
        assert probe.handled() == [1]  # not before on_stop is done: no overlap
        finish_stop.set()
        assert await collect(late) == [("k", 2)]

    assert probe.kinds("k") == [
        "start", "handle", "done", "stop",  # first incarnation, passivated
        "start", "handle", "done", "stop",  # a fresh one for the late message
    ]  # fmt: skip
    stats = system.statistics()
    assert stats.passivations == 1
    assert stats.activations == 2
    assert stats.messages_processed == 2


@pytest.mark.parametrize("offset", [-1e-6, 0.0, 1e-6])
@pytest.mark.parametrize("stop_duration", [0.0, 1e-6, 1.0])
async def test_message_at_the_idle_deadline_is_never_lost(
    autojump_clock: MockClock, offset: float, stop_duration: float
) -> None:
    async def stop(key: str) -> None:
        await trio.sleep(stop_duration)

    probe = Probe(on_stop=stop)
    async with open_actor_system(probe.factory, ActorSettings(idle_timeout=IDLE)) as system:
        for n in range(20):
            assert await collect(system.request("k", n)) == [("k", n)]
            # The actor started its idle wait when the turn above ended, i.e. now.
            await trio.sleep(IDLE + offset)
        stats = system.statistics()
    assert probe.handled() == list(range(20))
    assert stats.messages_processed == 20
    assert stats.messages_failed == 0
    if offset < 0:
        assert stats.passivations == 0
    kinds = probe.kinds("k")
    # Incarnations never overlap: starts and stops alternate.
    lifecycle = [k for k in kinds if k in ("start", "stop")]
    assert lifecycle == ["start", "stop"] * (len(lifecycle) // 2)


async def test_passivated_actors_leave_nothing_behind(autojump_clock: MockClock) -> None:
    probe = Probe()
    async with open_actor_system(probe.factory, ActorSettings(idle_timeout=IDLE)) as system:
        async with trio.open_nursery() as nursery:
            for i in range(200):
                nursery.start_soon(collect, system.request(f"k{i}", i))
        assert system.statistics().live_actors == 200
        await trio.sleep(IDLE + 1)
        stats = system.statistics()
        assert (stats.live_actors, stats.passivations) == (0, 200)


async def test_idle_timeout_never_interrupts_a_long_turn_or_start(
    autojump_clock: MockClock,
) -> None:
    async def slow_start(key: str) -> None:
        await trio.sleep(3 * IDLE)

    async def slow_turn(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        for i in range(5):
            await trio.sleep(IDLE)
            await reply.send(i)

    probe = Probe(script=slow_turn, on_start=slow_start)
    async with open_actor_system(probe.factory, ActorSettings(idle_timeout=IDLE)) as system:
        first = system.request("k", 1)
        second = system.request("k", 2)
        assert await collect(first) == [0, 1, 2, 3, 4]
        assert await collect(second) == [0, 1, 2, 3, 4]
        assert trio.current_time() == 3 * IDLE + 10 * IDLE
        assert system.statistics().passivations == 0
        await trio.sleep(IDLE + 1)
        assert system.statistics().passivations == 1
    assert probe.kinds("k") == ["start", "handle", "done", "handle", "done", "stop"]

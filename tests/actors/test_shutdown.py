"""Shutdown: stop accepting, grace for running turns, then cancel; nothing outlives it."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from robolearn.actors import (
    ActorSettings,
    ActorSystem,
    ReplySender,
    SystemShuttingDown,
    open_actor_system,
)

from ._probe import Probe, actor_tasks, outcome


class Outcomes:
    """What each named request's reader got (events, error) and when its replies ended."""

    def __init__(self) -> None:
        self.results: dict[str, tuple[list[Any], BaseException | None]] = {}
        self.ended: dict[str, float] = {}

    async def read(self, name: str, replies: Any) -> None:
        self.results[name] = await outcome(replies)
        self.ended[name] = trio.current_time()

    def running_and_queued(
        self, readers: trio.Nursery, system: ActorSystem[Any, Any, Any], seconds: float
    ) -> None:
        """A turn of ``seconds`` on actor "k", and one queued behind it."""
        readers.start_soon(self.read, "running", system.request("k", seconds))
        readers.start_soon(self.read, "queued", system.request("k", 1.0))


def assert_refuses_new_requests(system: ActorSystem[Any, Any, Any]) -> None:
    with pytest.raises(SystemShuttingDown):
        system.request("k2", 1.0)
    assert system.statistics().accepting is False


class Worker:
    """Sleeps ``payload`` seconds; on cancellation does a shielded 0.5 s cleanup."""

    def __init__(self) -> None:
        self.completed: list[Any] = []
        self.cleaned_up: list[Any] = []

    async def __call__(self, key: str, payload: float, reply: ReplySender[Any]) -> None:
        try:
            await trio.sleep(payload)
        except trio.Cancelled:
            with trio.move_on_after(1, shield=True):
                await trio.sleep(0.5)
                self.cleaned_up.append(key)
            raise
        self.completed.append(key)
        await reply.send("done")


async def test_exit_lets_running_turns_finish_within_grace(autojump_clock: MockClock) -> None:
    worker = Worker()
    probe = Probe(script=worker)
    results: dict[str, tuple[list[Any], BaseException | None]] = {}

    async def read(name: str, replies: Any) -> None:
        results[name] = await outcome(replies)

    settings = ActorSettings(shutdown_grace=10)
    async with trio.open_nursery() as readers:
        async with open_actor_system(probe.factory, settings) as system:
            for i in range(50):
                readers.start_soon(read, f"busy{i}", system.request(f"k{i}", 3.0))
            readers.start_soon(read, "queued", system.request("k0", 1.0))
            readers.start_soon(read, "idle", system.request("idle", 0.0))
            await wait_all_tasks_blocked()
            assert system.statistics().busy_actors == 50
        assert trio.current_time() == 3.0  # waited for the turns, not for the whole grace
        assert actor_tasks() == []

    assert sorted(worker.completed) == sorted([f"k{i}" for i in range(50)] + ["idle"])
    assert worker.cleaned_up == []
    assert all(results[f"busy{i}"] == (["done"], None) for i in range(50))
    events, error = results["queued"]
    assert events == []
    assert isinstance(error, SystemShuttingDown)
    assert error.key == "k0"
    # Every incarnation was stopped.
    assert len([e for e in probe.events if e[0] == "stop"]) == 51
    stats = system.statistics()
    assert (stats.live_actors, stats.busy_actors, stats.accepting) == (0, 0, False)
    assert stats.messages_accepted == stats.messages_processed + stats.messages_failed == 52


async def test_exit_cancels_turns_still_running_after_grace(autojump_clock: MockClock) -> None:
    worker = Worker()
    probe = Probe(script=worker)
    results: dict[str, tuple[list[Any], BaseException | None]] = {}

    async def read(name: str, replies: Any) -> None:
        results[name] = await outcome(replies)

    settings = ActorSettings(shutdown_grace=5)
    async with trio.open_nursery() as readers:
        async with open_actor_system(probe.factory, settings) as system:
            readers.start_soon(read, "quick", system.request("quick", 2.0))
            readers.start_soon(read, "slow", system.request("slow", 1000.0))
            await wait_all_tasks_blocked()
        # Grace, then the slow turn's shielded cleanup.
        assert trio.current_time() == 5.5
        assert actor_tasks() == []

    assert worker.completed == ["quick"]
    assert worker.cleaned_up == ["slow"]
    assert results["quick"] == (["done"], None)
    _, error = results["slow"]
    assert isinstance(error, SystemShuttingDown)
    assert probe.total_running == 0
    assert probe.kinds("slow") == ["start", "handle", "stop"]
    stats = system.statistics()
    assert (stats.live_actors, stats.busy_actors) == (0, 0)


async def test_zero_grace_cancels_at_once(autojump_clock: MockClock) -> None:
    worker = Worker()
    async with open_actor_system(
        Probe(script=worker).factory, ActorSettings(shutdown_grace=0)
    ) as system:
        replies = system.request("k", 10.0)
        await wait_all_tasks_blocked()
    assert trio.current_time() == 0.5
    assert worker.cleaned_up == ["k"]
    assert isinstance((await outcome(replies))[1], SystemShuttingDown)


async def test_requests_are_refused_once_shutdown_began(autojump_clock: MockClock) -> None:
    worker = Worker()
    refused: list[SystemShuttingDown] = []

    async def late_sender(system: ActorSystem[str, float, Any]) -> None:
        await trio.sleep(0.5)  # during the shutdown grace
        for key in ("k", "new-key"):
            with pytest.raises(SystemShuttingDown) as info:
                system.request(key, 1.0)
            refused.append(info.value)

    # The reader and the late sender live outside the system block.
    async with (
        trio.open_nursery() as nursery,
        open_actor_system(Probe(script=worker).factory) as system,
    ):
        nursery.start_soon(outcome, system.request("k", 1.0))
        await wait_all_tasks_blocked()
        nursery.start_soon(late_sender, system)
    assert [e.key for e in refused] == ["k", "new-key"]
    assert trio.current_time() == 1.0
    with pytest.raises(SystemShuttingDown):
        system.request("k", 1.0)
    assert system.statistics().accepting is False


async def test_error_in_body_cancels_at_once_and_propagates_unwrapped(
    autojump_clock: MockClock,
) -> None:
    worker = Worker()
    probe = Probe(script=worker)
    with pytest.raises(KeyError, match="oops"):
        async with open_actor_system(probe.factory, ActorSettings(shutdown_grace=60)) as system:
            replies = system.request("k", 1000.0)
            await wait_all_tasks_blocked()
            raise KeyError("oops")
    assert trio.current_time() == 0.5  # no grace: straight to cancellation and cleanup
    assert worker.cleaned_up == ["k"]
    assert actor_tasks() == []
    assert isinstance((await outcome(replies))[1], SystemShuttingDown)
    assert probe.kinds("k") == ["start", "handle", "stop"]


async def test_outer_cancellation_stops_everything(autojump_clock: MockClock) -> None:
    worker = Worker()
    probe = Probe(script=worker)
    with trio.move_on_after(2) as scope:
        async with open_actor_system(probe.factory, ActorSettings(shutdown_grace=60)) as system:
            replies = [system.request(f"k{i}", 1000.0) for i in range(10)]
            await trio.sleep_forever()
    assert scope.cancelled_caught
    assert trio.current_time() == 2.5
    assert sorted(worker.cleaned_up) == sorted(f"k{i}" for i in range(10))
    assert actor_tasks() == []
    assert probe.total_running == 0
    for r in replies:
        assert isinstance((await outcome(r))[1], SystemShuttingDown)
    assert system.statistics().live_actors == 0


async def test_stop_accepting_fails_queued_messages_and_lets_running_turns_finish(
    autojump_clock: MockClock,
) -> None:
    probe = Probe(script=Worker())
    seen = Outcomes()
    async with (
        trio.open_nursery() as readers,
        open_actor_system(probe.factory, ActorSettings(shutdown_grace=60)) as system,
    ):
        seen.running_and_queued(readers, system, 5.0)
        await trio.sleep(1)
        system.stop_accepting()
        assert_refuses_new_requests(system)
        await trio.sleep(1)
        assert probe.total_running == 1  # the running turn goes on

    assert seen.results["running"][1] is None
    assert seen.ended["running"] == 5
    assert seen.results["queued"][0] == []
    assert isinstance(seen.results["queued"][1], SystemShuttingDown)
    assert seen.ended["queued"] == 1  # told at once, not when the running turn ended


async def test_shutdown_now_cancels_running_turns_without_waiting_for_the_block(
    autojump_clock: MockClock,
) -> None:
    async def streamer(key: str, payload: float, reply: ReplySender[Any]) -> None:
        await reply.send("first")
        await Worker()(key, payload, reply)

    probe = Probe(script=streamer)
    seen = Outcomes()
    settings = ActorSettings(shutdown_grace=60)
    async with trio.open_nursery() as readers:
        async with open_actor_system(probe.factory, settings) as system:
            seen.running_and_queued(readers, system, 1000.0)
            await trio.sleep(3)
            system.shutdown_now()
            assert_refuses_new_requests(system)
            await trio.sleep(10)  # the block goes on; the turn does not
            assert probe.total_running == 0
        assert trio.current_time() == 13  # nothing left to wait for at exit
        assert actor_tasks() == []

    events, error = seen.results["running"]
    assert events == ["first"]  # what was sent before, then the error
    assert isinstance(error, SystemShuttingDown)
    assert seen.ended["running"] == 3.5  # cancelled at once; its shielded cleanup took 0.5 s
    assert seen.results["queued"][0] == []
    assert isinstance(seen.results["queued"][1], SystemShuttingDown)
    assert seen.ended["queued"] == 3

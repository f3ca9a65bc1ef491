"""Cancellation: ActorSystem.cancel, Replies.cancel, and senders that go away."""

from __future__ import annotations

from typing import Any

import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from robolearn.actors import (
    ActorStopped,
    ReplySender,
    SystemShuttingDown,
    TurnCancelled,
    open_actor_system,
)

from ._probe import Probe, collect, outcome


class Streamer:
    """Streams ``n`` tokens one second apart; on cancel, persists what it has, shielded."""

    def __init__(self) -> None:
        self.persisted: dict[Any, list[int]] = {}
        self.cleanups = 0

    async def __call__(self, key: str, payload: Any, reply: ReplySender[Any]) -> None:
        tokens: list[int] = []
        try:
            for i in range(payload["n"]):
                await trio.sleep(1)
                tokens.append(i)
                await reply.send(i)
        except trio.Cancelled:
            with trio.move_on_after(5, shield=True):
                await trio.sleep(0.5)  # e.g. a database write
                self.persisted[payload["id"]] = tokens
                self.cleanups += 1
            raise
        self.persisted[payload["id"]] = tokens


async def test_cancel_mid_turn_runs_cleanup_and_fails_pending(autojump_clock: MockClock) -> None:
    streamer = Streamer()
    probe = Probe(script=streamer)
    async with open_actor_system(probe.factory) as system:
        running = system.request("k", {"id": "a", "n": 100})
        queued = [system.request("k", {"id": f"q{i}", "n": 1}) for i in range(3)]
        other = system.request("other", {"id": "o", "n": 5})

        async with running:
            assert [await running.__anext__() for _ in range(3)] == [0, 1, 2]
            start = trio.current_time()
            assert system.cancel("k")
            events, error = await outcome(running)

        assert events == []
        assert isinstance(error, ActorStopped)
        assert not isinstance(error, SystemShuttingDown)
        assert "it was cancelled" in str(error)
        # The handler's shielded cleanup ran to the end, and took its time.
        assert streamer.persisted["a"] == [0, 1, 2]
        assert streamer.cleanups == 1
        assert trio.current_time() == start + 0.5
        for replies in queued:
            events, error = await outcome(replies)
            assert events == []
            assert isinstance(error, ActorStopped)
        assert probe.handled("k") == [{"id": "a", "n": 100}]  # queued ones never ran
        assert probe.running["k"] == 0
        assert probe.kinds("k")[-1] == "stop"  # on_stop ran despite the cancellation

        # The other actor is untouched.
        assert await collect(other) == [0, 1, 2, 3, 4]

        # The next message gets a fresh incarnation, and each message ran at most once.
        assert await collect(system.request("k", {"id": "b", "n": 2})) == [0, 1]
        assert probe.handled("k") == [{"id": "a", "n": 100}, {"id": "b", "n": 2}]
        assert probe.kinds("k") == [
            "start", "handle", "stop",
            "start", "handle", "done",
        ]  # fmt: skip
        stats = system.statistics()
        assert stats.cancellations == 1
        assert stats.messages_failed == 4
        assert stats.messages_accepted == stats.messages_processed + stats.messages_failed


async def test_cancel_idle_or_unknown_actor(autojump_clock: MockClock) -> None:
    probe = Probe()
    async with open_actor_system(probe.factory) as system:
        assert not system.cancel("nobody")
        assert await collect(system.request("k", 1)) == [("k", 1)]
        assert system.cancel("k")
        await wait_all_tasks_blocked()
        assert system.actor_statistics("k") is None
        assert probe.kinds("k") == ["start", "handle", "done", "stop"]


async def test_cancel_before_the_actor_task_started(autojump_clock: MockClock) -> None:
    probe = Probe()
    async with open_actor_system(probe.factory) as system:
        replies = system.request("k", 1)
        assert system.cancel("k")
        _, error = await outcome(replies)
        assert isinstance(error, ActorStopped)
        await wait_all_tasks_blocked()
        assert system.statistics().live_actors == 0
        assert await collect(system.request("k", 2)) == [("k", 2)]
    assert probe.handled() == [2]


async def test_message_sent_during_cancel_cleanup_is_served_afterwards(
    autojump_clock: MockClock,
) -> None:
    streamer = Streamer()
    probe = Probe(script=streamer)
    async with open_actor_system(probe.factory) as system:
        running = system.request("k", {"id": "a", "n": 100})
        await trio.sleep(1.5)
        system.cancel("k")
        await trio.sleep(0.1)  # the handler is now in its shielded cleanup
        assert streamer.cleanups == 0
        later = system.request("k", {"id": "b", "n": 1})
        assert await collect(later) == [0]
        assert streamer.cleanups == 1
        _, error = await outcome(running)
        assert isinstance(error, ActorStopped)
    # The late message's turn started only after the cancelled one had cleaned up.
    assert probe.kinds("k") == ["start", "handle", "stop", "start", "handle", "done", "stop"]


async def test_sender_disconnect_does_not_cancel_the_turn(autojump_clock: MockClock) -> None:
    streamer = Streamer()
    probe = Probe(script=streamer)
    senders: list[ReplySender[Any]] = []

    async def spy(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        senders.append(reply)
        await streamer(key, payload, reply)

    probe.script = spy
    async with open_actor_system(probe.factory) as system:
        async with system.request("k", {"id": "a", "n": 5}) as replies:
            assert await replies.__anext__() == 0
        # The client went away after one event (like an HTTP disconnect).
        assert not replies.finished
        await trio.sleep(10)
        assert replies.finished
        assert streamer.persisted["a"] == [0, 1, 2, 3, 4]  # the turn ran to the end
        assert senders[0].receiver_gone
        assert probe.finished() == [{"id": "a", "n": 5}]
        assert system.statistics().messages_processed == 1

        # A disconnect while still queued does not skip the message either.
        blocker = system.request("k", {"id": "b", "n": 3})
        async with system.request("k", {"id": "c", "n": 2}):
            pass
        await collect(blocker)
        await trio.sleep(5)
        assert streamer.persisted["c"] == [0, 1]
        assert streamer.cleanups == 0


async def test_replies_cancel_cancels_only_that_turn(autojump_clock: MockClock) -> None:
    streamer = Streamer()
    probe = Probe(script=streamer)
    async with open_actor_system(probe.factory) as system:
        running = system.request("k", {"id": "a", "n": 100})
        queued = system.request("k", {"id": "b", "n": 100})
        after = system.request("k", {"id": "c", "n": 2})
        queued.cancel()  # cancelled before it starts: it never runs

        async with running:
            assert await running.__anext__() == 0
            running.cancel()
            events, error = await outcome(running)
        assert events == []
        assert isinstance(error, TurnCancelled)
        assert streamer.persisted["a"] == [0]
        assert isinstance((await outcome(queued))[1], TurnCancelled)

        # The actor itself carries on with the next message, same incarnation.
        assert await collect(after) == [0, 1]
        assert probe.handled("k") == [{"id": "a", "n": 100}, {"id": "c", "n": 2}]
        assert probe.kinds("k").count("start") == 1
        assert system.statistics().crashes == 0

        done = system.request("k", {"id": "d", "n": 1})
        assert await collect(done) == [0]
        done.cancel()  # a no-op once finished
        assert done.finished

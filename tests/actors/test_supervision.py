"""One-for-one supervision: crash -> error to sender -> restart; restart intensity."""

from __future__ import annotations

import logging
from typing import Any

import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

from robolearn.actors import (
    ActorCrashed,
    ActorSettings,
    ReplySender,
    RestartIntensityExceeded,
    open_actor_system,
)

from ._probe import Probe, collect, outcome


class Boom(Exception):
    pass


async def crash_on_boom(key: str, payload: Any, reply: ReplySender[Any]) -> None:
    await reply.send(("before", payload))
    await trio.sleep(0.1)
    if payload == "boom":
        raise Boom(f"bad payload for {key}")
    await reply.send(("after", payload))


async def test_crash_reports_error_logs_key_and_restarts(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe(script=crash_on_boom)
    async with open_actor_system(probe.factory) as system:
        crashing = system.request("thread-1", "boom")
        following = system.request("thread-1", "ok")

        events, error = await outcome(crashing)
        assert events == [("before", "boom")]  # what was sent before the crash arrives
        assert isinstance(error, ActorCrashed)
        assert error.key == "thread-1"
        assert isinstance(error.__cause__, Boom)
        assert "Boom: bad payload for thread-1" in str(error)

        # The same mailbox goes on with a fresh incarnation.
        assert await collect(following) == [("before", "ok"), ("after", "ok")]
        stats = system.statistics()
        assert (stats.crashes, stats.restarts, stats.gave_up) == (1, 1, 0)
        assert stats.activations == 2
        assert stats.live_actors == 1
        assert system.actor_statistics("thread-1").recent_crashes == 1  # type: ignore[union-attr]

    # on_stop ran for the crashed incarnation before the new one started.
    assert probe.kinds("thread-1") == [
        "start", "handle", "stop",
        "start", "handle", "done", "stop",
    ]  # fmt: skip
    crash_logs = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert len(crash_logs) == 1
    assert crash_logs[0].name == "robolearn.actors"
    assert crash_logs[0].actor_key == "thread-1"  # type: ignore[attr-defined]
    assert "'thread-1'" in crash_logs[0].getMessage()
    assert crash_logs[0].exc_info is not None and crash_logs[0].exc_info[0] is Boom


async def test_restart_intensity_exceeded_stops_actor_and_fails_pending(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    probe = Probe(script=crash_on_boom)
    settings = ActorSettings(max_restarts=2, restart_window=10.0)
    async with open_actor_system(probe.factory, settings) as system:
        # A neighbour with a long-running turn, to show it is unaffected.
        neighbour = system.request("calm", "ok")
        booms = [system.request("bad", "boom") for _ in range(3)]
        pending = [system.request("bad", f"p{i}") for i in range(2)]

        for replies in booms:
            _, error = await outcome(replies)
            assert isinstance(error, ActorCrashed)
        for replies in pending:
            events, error = await outcome(replies)
            assert events == []
            assert isinstance(error, RestartIntensityExceeded)
            assert error.key == "bad"
            assert "crashed more than 2 times within 10s" in str(error)

        assert probe.handled("bad") == ["boom"] * 3  # the pending ones never ran
        assert system.actor_statistics("bad") is None  # stopped and removed
        stats = system.statistics()
        assert (stats.crashes, stats.restarts, stats.gave_up) == (3, 2, 1)

        # Others are unaffected, and the key can be used again: a fresh actor.
        assert await collect(neighbour) == [("before", "ok"), ("after", "ok")]
        assert await collect(system.request("bad", "again")) == [
            ("before", "again"),
            ("after", "again"),
        ]
        assert system.actor_statistics("bad").recent_crashes == 0  # type: ignore[union-attr]

    assert any(
        "crashed 3 times within 10s" in r.getMessage() and r.actor_key == "bad"  # type: ignore[attr-defined]
        for r in caplog.records
    )
    stats = system.statistics()
    assert stats.messages_accepted == stats.messages_processed + stats.messages_failed


async def test_crashes_spread_beyond_the_window_do_not_stop_the_actor(
    autojump_clock: MockClock,
) -> None:
    probe = Probe(script=crash_on_boom)
    settings = ActorSettings(max_restarts=1, restart_window=5.0, idle_timeout=1000)
    async with open_actor_system(probe.factory, settings) as system:
        for _ in range(5):
            _, error = await outcome(system.request("k", "boom"))
            assert isinstance(error, ActorCrashed)
            await trio.sleep(5.0)
        assert system.statistics().gave_up == 0
        assert await collect(system.request("k", "ok")) == [("before", "ok"), ("after", "ok")]


async def test_failing_on_start_is_bounded_by_restart_intensity(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def broken_start(key: str) -> None:
        raise RuntimeError("cannot load state")

    probe = Probe(on_start=broken_start)
    settings = ActorSettings(max_restarts=3)
    async with open_actor_system(probe.factory, settings) as system:
        events, error = await outcome(system.request("k", 1))
        assert events == []
        assert isinstance(error, RestartIntensityExceeded)
        stats = system.statistics()
        assert (stats.crashes, stats.gave_up, stats.activations) == (4, 1, 0)
        assert stats.live_actors == 0
    assert probe.handled() == []
    assert "stop" not in probe.kinds("k")  # on_stop only pairs with a successful on_start
    assert sum("failed to start" in r.getMessage() for r in caplog.records) == 4


async def test_factory_errors_are_crashes_too(autojump_clock: MockClock) -> None:
    def factory(key: str) -> Any:
        raise ValueError("no behaviour for " + key)

    async with open_actor_system(factory, ActorSettings(max_restarts=0)) as system:
        _, error = await outcome(system.request("k", 1))
        assert isinstance(error, RestartIntensityExceeded)
        assert system.statistics().crashes == 1


async def test_failing_or_hanging_on_stop_is_logged_and_bounded(
    autojump_clock: MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def bad_stop(key: str) -> None:
        if key == "raises":
            raise RuntimeError("cannot flush")
        await trio.sleep_forever()

    probe = Probe(on_stop=bad_stop)
    settings = ActorSettings(idle_timeout=1, stop_timeout=2)
    async with open_actor_system(probe.factory, settings) as system:
        for key in ("raises", "hangs"):
            assert await collect(system.request(key, 1)) == [(key, 1)]
        await trio.sleep(1 + 2 + 0.1)
        assert system.statistics().live_actors == 0
        assert system.statistics().passivations == 2
        assert await collect(system.request("raises", 2)) == [("raises", 2)]
    messages = [r.getMessage() for r in caplog.records]
    assert any("on_stop of actor 'raises' failed" in m for m in messages)
    assert any("on_stop of actor 'hangs' took longer than stop_timeout=2s" in m for m in messages)


async def test_crash_in_one_actor_never_reaches_the_system(autojump_clock: MockClock) -> None:
    async def always_crash(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        raise Boom(key)

    probe = Probe(script=always_crash)
    async with open_actor_system(probe.factory, ActorSettings(max_restarts=0)) as system:
        results = []
        for i in range(50):
            results.append(await outcome(system.request(f"k{i % 5}", i)))
        await wait_all_tasks_blocked()
        assert all(isinstance(err, ActorCrashed) for _, err in results)
        assert system.statistics().accepting

"""Public surface: settings validation, reply channel semantics, from_handler, statistics."""

from __future__ import annotations

import math
from typing import Any

import pytest
import trio
from trio.testing import MockClock, wait_all_tasks_blocked

import robolearn.actors as actors
from robolearn.actors import (
    ActorSettings,
    ActorStatistics,
    ReplySender,
    from_handler,
    open_actor_system,
)
from robolearn.actors._messages import open_reply_channel

from ._probe import Probe, collect, outcome


def test_public_names_are_exported() -> None:
    for name in actors.__all__:
        assert getattr(actors, name) is not None
    assert actors.__doc__ is not None and "Passivation" in actors.__doc__


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("mailbox_capacity", 0),
        ("mailbox_capacity", 1.5),
        ("mailbox_capacity", True),
        ("idle_timeout", 0),
        ("idle_timeout", -1),
        ("idle_timeout", math.nan),
        ("max_restarts", -1),
        ("restart_window", 0),
        ("shutdown_grace", -0.1),
        ("stop_timeout", "5"),
        ("reply_buffer", 2.5),
        ("retry_after", -1),
    ],
)
def test_settings_reject_bad_values_naming_the_field(field: str, value: Any) -> None:
    with pytest.raises((ValueError, TypeError), match=field):
        ActorSettings(**{field: value})


def test_settings_accept_infinite_timeouts_and_buffer() -> None:
    settings = ActorSettings(idle_timeout=math.inf, reply_buffer=math.inf, shutdown_grace=0)
    assert settings.mailbox_capacity == 16


async def test_reply_sender_swallows_sends_after_the_reader_left() -> None:
    reply: ReplySender[int]
    reply, replies = open_reply_channel(math.inf)
    await reply.send(1)
    assert not reply.receiver_gone
    assert await replies.__anext__() == 1
    await replies.aclose()
    await reply.send(2)  # no error
    assert reply.receiver_gone
    reply._finish(None)
    await reply.send(3)  # after the turn ended: dropped too


async def test_reply_sender_sends_without_waiting_until_a_bounded_buffer_is_full() -> None:
    reply: ReplySender[int]
    reply, replies = open_reply_channel(2)
    reply.send_nowait(1)
    reply.send_nowait(2)
    with pytest.raises(trio.WouldBlock):
        reply.send_nowait(3)
    assert replies.ready() == [1, 2]
    replies.close()
    reply.send_nowait(4)  # the reader left: dropped, as with send
    assert reply.receiver_gone


async def test_bounded_reply_buffer_applies_backpressure_until_reader_leaves(
    autojump_clock: MockClock,
) -> None:
    sent: list[int] = []

    async def chatty(key: str, payload: Any, reply: ReplySender[int]) -> None:
        for i in range(10):
            await reply.send(i)
            sent.append(i)

    async with open_actor_system(from_handler(chatty), ActorSettings(reply_buffer=2)) as system:
        replies = system.request("k", None)
        await wait_all_tasks_blocked()
        assert sent == [0, 1]  # the third send waits for the reader
        assert await replies.__anext__() == 0
        await wait_all_tasks_blocked()
        assert sent == [0, 1, 2]
        await replies.aclose()  # the reader leaves: the handler runs to the end
        await wait_all_tasks_blocked()
        assert sent == list(range(10))
        assert replies.finished


async def test_error_is_raised_after_the_events_sent_before_it() -> None:
    async def partial(key: str, payload: Any, reply: ReplySender[str]) -> None:
        await reply.send("x")
        await reply.send("y")
        raise RuntimeError("midway")

    async with open_actor_system(from_handler(partial)) as system:
        events, error = await outcome(system.request("k", None))
    assert events == ["x", "y"]
    assert isinstance(error, actors.ActorCrashed)
    assert isinstance(error.__cause__, RuntimeError)
    assert isinstance(error, actors.ActorError)


async def test_when_finished_runs_once_when_the_turn_ends_however_it_ends() -> None:
    gate = trio.Event()

    async def handler(key: str, payload: Any, reply: ReplySender[str]) -> None:
        await gate.wait()
        if payload == "fail":
            raise RuntimeError("boom")

    async with open_actor_system(from_handler(handler)) as system:
        ended: list[str] = []
        ok, failing = system.request("a", "ok"), system.request("b", "fail")
        ok.when_finished(lambda: ended.append("ok"))
        failing.when_finished(lambda: ended.append("fail"))
        ok.close()  # the reader leaving does not end the turn
        await wait_all_tasks_blocked()
        assert ended == []
        gate.set()
        await wait_all_tasks_blocked()
        assert sorted(ended) == ["fail", "ok"]
        ok.when_finished(lambda: ended.append("late"))  # already over: at once
        assert ended[-1] == "late"
        await failing.aclose()


async def test_ready_takes_what_has_arrived_and_leaves_the_end_to_iteration() -> None:
    reply: ReplySender[str]
    reply, replies = open_reply_channel(math.inf)
    assert replies.ready() == []
    await reply.send("a")
    await reply.send("b")
    assert await replies.__anext__() == "a"
    await reply.send("c")
    assert replies.ready() == ["b", "c"]
    await reply.send("d")
    reply._finish(actors.TurnCancelled("k"))
    assert replies.ready() == ["d"]
    assert replies.ready() == []  # the error is not swallowed...
    with pytest.raises(actors.TurnCancelled):
        await replies.__anext__()  # ...but raised by the iteration


async def test_actor_statistics_snapshot() -> None:
    gate = trio.Event()

    async def gated(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        await gate.wait()

    probe = Probe(script=gated)
    async with open_actor_system(probe.factory, ActorSettings(mailbox_capacity=4)) as system:
        pending = [system.request("k", i) for i in range(3)]
        await wait_all_tasks_blocked()
        assert system.actor_statistics("k") == ActorStatistics(
            key="k",
            mailbox_depth=2,
            mailbox_capacity=4,
            busy=True,
            turns=0,
            recent_crashes=0,
        )
        assert system.actor_statistics("missing") is None
        gate.set()
        for replies in pending:
            await collect(replies)
        await wait_all_tasks_blocked()
        stats = system.actor_statistics("k")
        assert stats is not None and (stats.busy, stats.turns, stats.mailbox_depth) == (
            False,
            3,
            0,
        )
        assert system.settings.mailbox_capacity == 4

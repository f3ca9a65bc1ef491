"""on_idle: called when a turn leaves the mailbox empty, before any later turn starts."""

from __future__ import annotations

from typing import Any

import trio
from trio.testing import wait_all_tasks_blocked

from robolearn.actors import ReplySender, open_actor_system

from ._probe import Probe, collect


async def test_on_idle_runs_once_the_mailbox_is_empty_not_between_queued_turns() -> None:
    gate = trio.Event()

    async def script(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        if payload == 1:
            await gate.wait()
        await reply.send(payload)

    probe = Probe(script=script)
    async with open_actor_system(probe.factory) as system:
        first = system.request("k", 1)
        queued = [system.request("k", n) for n in (2, 3)]
        gate.set()
        for replies in (first, *queued):
            async with replies:
                await collect(replies)
        await wait_all_tasks_blocked()
        assert probe.idles == [("k", 3)]
        async with system.request("k", 4) as replies:
            await collect(replies)
        await wait_all_tasks_blocked()
        assert probe.idles == [("k", 3), ("k", 4)]


async def test_the_next_turn_waits_for_on_idle() -> None:
    idle_entered, idle_may_end = trio.Event(), trio.Event()

    async def on_idle(key: str) -> None:
        idle_entered.set()
        await idle_may_end.wait()

    probe = Probe(on_idle=on_idle)
    async with open_actor_system(probe.factory) as system:
        async with system.request("k", 1) as replies:
            await collect(replies)
        await idle_entered.wait()
        second = system.request("k", 2)
        await wait_all_tasks_blocked()
        assert probe.handled("k") == [1]
        idle_may_end.set()
        async with second:
            assert await collect(second) == [("k", 2)]


async def test_a_failing_on_idle_counts_as_a_crash_and_restarts_the_actor() -> None:
    async def on_idle(key: str) -> None:
        raise RuntimeError("cannot let go")

    probe = Probe(on_idle=on_idle)
    async with open_actor_system(probe.factory) as system:
        async with system.request("k", 1) as replies:
            await collect(replies)
        await wait_all_tasks_blocked()
        assert probe.kinds("k")[-1] == "stop"
        assert system.statistics().crashes == 1
        async with system.request("k", 2) as replies:
            assert await collect(replies) == [("k", 2)]
        assert probe.incarnations == 2

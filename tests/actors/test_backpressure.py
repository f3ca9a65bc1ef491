"""Bounded mailboxes: a full one refuses at once with MailboxFull and drops nothing."""

from __future__ import annotations

from typing import Any

import pytest
import trio
from trio.testing import wait_all_tasks_blocked

from robolearn.actors import ActorSettings, MailboxFull, ReplySender, open_actor_system

from ._probe import Probe, collect


async def test_full_mailbox_raises_mailbox_full_and_drops_nothing() -> None:
    release = trio.Event()

    async def gated(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        await release.wait()
        await reply.send(payload)

    probe = Probe(script=gated)
    settings = ActorSettings(mailbox_capacity=2, retry_after=3.0)
    async with open_actor_system(probe.factory, settings) as system:
        accepted = [system.request("k", 0)]
        await wait_all_tasks_blocked()  # message 0 is now being handled
        accepted += [system.request("k", 1), system.request("k", 2)]
        assert system.statistics().max_mailbox_depth == 2

        with pytest.raises(MailboxFull) as info:
            system.request("k", 3)
        assert info.value.key == "k"
        assert info.value.capacity == 2
        assert info.value.retry_after == 3.0
        assert "retry in 3s" in str(info.value)

        # Other keys have their own mailboxes.
        other = system.request("other", "x")
        await wait_all_tasks_blocked()

        stats = system.statistics()
        assert stats.messages_rejected == 1
        assert stats.messages_accepted == 4
        assert stats.queued_messages == 2
        assert stats.busy_actors == 2

        release.set()
        assert [await collect(r) for r in accepted] == [[0], [1], [2]]
        assert await collect(other) == ["x"]

        # Once drained, the mailbox accepts again.
        assert await collect(system.request("k", 4)) == [4]

    assert probe.handled("k") == [0, 1, 2, 4]
    stats = system.statistics()
    assert stats.messages_accepted == stats.messages_processed == 5
    assert stats.messages_failed == 0


async def test_send_never_blocks_even_when_full() -> None:
    never = trio.Event()

    async def stuck(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        await never.wait()

    settings = ActorSettings(mailbox_capacity=1, shutdown_grace=0)
    async with open_actor_system(Probe(script=stuck).factory, settings) as system:
        system.request("k", 0)
        await wait_all_tasks_blocked()
        system.request("k", 1)
        for _ in range(100):
            with pytest.raises(MailboxFull):
                system.request("k", 2)
        assert system.statistics().messages_rejected == 100

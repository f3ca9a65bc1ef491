"""Turns: one at a time per key, in arrival order; different keys run concurrently."""

from __future__ import annotations

from collections import defaultdict
from typing import Any

import trio
from trio.testing import MockClock, Sequencer

from robolearn.actors import ActorSettings, ReplySender, from_handler, open_actor_system

from ._probe import Probe, collect


async def _yielding_echo(key: str, payload: Any, reply: ReplySender[Any]) -> None:
    await trio.lowlevel.checkpoint()
    await reply.send((key, payload, "a"))
    await trio.lowlevel.checkpoint()
    await reply.send((key, payload, "b"))


async def test_per_key_order_with_100_keys_and_20_interleaved_senders() -> None:
    keys = [f"k{i:03}" for i in range(100)]
    senders, rounds = 20, 2  # two rounds: each sender's order per key is still checked
    probe = Probe(script=_yielding_echo)
    enqueued: dict[str, list[Any]] = defaultdict(list)
    replies_of: dict[Any, list[Any]] = {}
    settings = ActorSettings(mailbox_capacity=senders * rounds)

    async with open_actor_system(probe.factory, settings) as system:

        async def one_request(
            key: str, payload: Any, *, task_status: trio.TaskStatus[None]
        ) -> None:
            async with system.request(key, payload) as replies:
                # No checkpoint since the enqueue: this is the arrival order.
                enqueued[key].append(payload)
                task_status.started()
                replies_of[payload] = [event async for event in replies]

        async def sender(s: int, nursery: trio.Nursery) -> None:
            order = keys[s * 5 :] + keys[: s * 5]
            for r in range(rounds):
                for key in order:
                    await nursery.start(one_request, key, (s, r, key))

        async with trio.open_nursery() as nursery:
            for s in range(senders):
                nursery.start_soon(sender, s, nursery)

        stats = system.statistics()

    total = len(keys) * senders * rounds
    assert len(replies_of) == total
    for key in keys:
        assert len(enqueued[key]) == senders * rounds
        assert probe.handled(key) == enqueued[key]
        assert probe.finished(key) == enqueued[key]
        for s in range(senders):
            mine = [p for p in probe.handled(key) if p[0] == s]
            assert mine == [(s, r, key) for r in range(rounds)]
    for payload, events in replies_of.items():
        key = payload[2]
        assert events == [(key, payload, "a"), (key, payload, "b")]
    # The senders really interleaved: some key saw a sender's messages split by others'.
    assert any([p[0] for p in enqueued[key]] != sorted(p[0] for p in enqueued[key]) for key in keys)
    assert probe.max_running_per_key == 1
    assert stats.messages_accepted == stats.messages_processed == total
    assert stats.messages_failed == stats.messages_rejected == 0


async def test_different_keys_run_concurrently(autojump_clock: MockClock) -> None:
    seq = Sequencer()

    async def script(key: str, payload: Any, reply: ReplySender[str]) -> None:
        if key == "a":
            async with seq(0):
                pass
            # Only reachable if b's turn runs while a's turn is still in progress.
            async with seq(2):
                pass
        else:
            async with seq(1):
                pass
        await reply.send(key)

    async with open_actor_system(from_handler(script)) as system:
        results: dict[str, list[str]] = {}

        async def ask(key: str) -> None:
            results[key] = await collect(system.request(key, None))

        with trio.fail_after(1):
            async with trio.open_nursery() as nursery:
                nursery.start_soon(ask, "a")
                nursery.start_soon(ask, "b")

    assert results == {"a": ["a"], "b": ["b"]}


async def test_next_turn_starts_only_after_previous_returns(autojump_clock: MockClock) -> None:
    async def slow(key: str, payload: Any, reply: ReplySender[Any]) -> None:
        await trio.sleep(1)
        await reply.send(payload)

    probe = Probe(script=slow)
    async with open_actor_system(probe.factory) as system:
        first = system.request("k", 1)
        second = system.request("k", 2)
        await trio.testing.wait_all_tasks_blocked()
        assert probe.handled() == [1]
        assert await collect(first) == [1]
        assert await collect(second) == [2]
        assert trio.current_time() == 2
        assert probe.events == [
            ("start", "k", 1),
            ("handle", "k", 1),
            ("done", "k", 1),
            ("handle", "k", 2),
            ("done", "k", 2),
        ]

"""A scriptable behaviour that records what the runtime does with it."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from robolearn.actors import Behaviour, Replies, ReplySender

Script = Callable[[str, Any, ReplySender[Any]], Awaitable[None]]


async def echo(key: str, payload: Any, reply: ReplySender[Any]) -> None:
    await reply.send((key, payload))


@attrs.define(eq=False)
class Probe:
    """Shared by every incarnation a test's factory makes; records starts, turns, stops."""

    script: Script = echo
    events: list[tuple[str, str, Any]] = attrs.Factory(list)
    running: dict[str, int] = attrs.Factory(dict)
    max_running_per_key: int = 0
    on_start: Callable[[str], Awaitable[None]] | None = None
    on_stop: Callable[[str], Awaitable[None]] | None = None
    on_idle: Callable[[str], Awaitable[None]] | None = None
    # Kept apart from ``events``: (key, payloads whose turn had finished by then).
    idles: list[tuple[str, int]] = attrs.Factory(list)
    incarnations: int = 0

    def factory(self, key: str) -> Behaviour[str, Any, Any]:
        self.incarnations += 1
        return _ProbeBehaviour(self, self.incarnations)

    def handled(self, key: str | None = None) -> list[Any]:
        """Payloads whose turn started, in order (optionally for one key)."""
        return [p for kind, k, p in self.events if kind == "handle" and key in (None, k)]

    def finished(self, key: str | None = None) -> list[Any]:
        """Payloads whose handler returned normally, in order."""
        return [p for kind, k, p in self.events if kind == "done" and key in (None, k)]

    def kinds(self, key: str) -> list[str]:
        return [kind for kind, k, _ in self.events if k == key]

    @property
    def total_running(self) -> int:
        return sum(self.running.values())


@attrs.define(eq=False)
class _ProbeBehaviour(Behaviour[str, Any, Any]):
    probe: Probe
    incarnation: int

    async def on_start(self, key: str) -> None:
        self.probe.events.append(("start", key, self.incarnation))
        if self.probe.on_start is not None:
            await self.probe.on_start(key)

    async def handle(self, key: str, payload: Any, reply: ReplySender[Any]) -> None:
        probe = self.probe
        probe.events.append(("handle", key, payload))
        probe.running[key] = probe.running.get(key, 0) + 1
        probe.max_running_per_key = max(probe.max_running_per_key, probe.running[key])
        try:
            await probe.script(key, payload, reply)
        finally:
            probe.running[key] -= 1
        probe.events.append(("done", key, payload))

    async def on_idle(self, key: str) -> None:
        self.probe.idles.append((key, len(self.probe.finished(key))))
        if self.probe.on_idle is not None:
            await self.probe.on_idle(key)

    async def on_stop(self, key: str) -> None:
        self.probe.events.append(("stop", key, self.incarnation))
        if self.probe.on_stop is not None:
            await self.probe.on_stop(key)


async def collect(replies: Replies[Any]) -> list[Any]:
    """All events of a turn; raises the turn's error, if any."""
    async with replies:
        return [event async for event in replies]


async def outcome(replies: Replies[Any]) -> tuple[list[Any], BaseException | None]:
    """The events received and the error the iteration raised (None if it ended normally)."""
    events: list[Any] = []
    async with replies:
        try:
            async for event in replies:
                events.append(event)
        except Exception as exc:
            return events, exc
    return events, None


def actor_tasks() -> list[trio.lowlevel.Task]:
    """Every live task named like an actor task, anywhere in the task tree."""
    found: list[trio.lowlevel.Task] = []
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is None:
            continue
        if task.name.startswith("actor "):
            found.append(task)
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return found

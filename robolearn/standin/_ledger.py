"""The stand-in's memory: config, queued faults, recorded requests and their answers.

One `Ledger` per server, owned by the app and touched only from trio tasks of one loop, so
it needs no locks. Waiters (the long-poll endpoints) sleep on one `trio.Event` that is set
and replaced whenever a request is recorded or an answer ends, never per delta: the
per-token path only bumps a counter.
"""

from __future__ import annotations

import secrets
import time
from collections import deque
from typing import Any

import attrs
import trio

from ._config import StandInConfig
from ._faults import Fault
from ._records import Outcome, RecordedRequest, StreamRecord

__all__ = ["Exchange", "Ledger"]


@attrs.define(kw_only=True)
class Exchange:
    """The live record of one model answer; the request's task owns and updates it.

    ``tag`` makes the answer's ids (``chatcmpl-…``, ``msg_…``, ``call_…``) unique for the
    life of the process and across processes: a client that stores items by id must never
    see two answers share one, even after a reset.
    """

    n: int
    path: str
    stream: bool
    tag: str
    started: float = attrs.field(factory=time.monotonic)
    ended: float | None = None
    outcome: Outcome | None = None
    deltas: int = 0

    def snapshot(self) -> StreamRecord:
        return StreamRecord(
            n=self.n,
            path=self.path,
            stream=self.stream,
            started=self.started,
            ended=self.ended,
            outcome=self.outcome,
            deltas=self.deltas,
        )


@attrs.define
class Ledger:
    """Config, fault queue and records, with waits for tests that must not sleep.

    Every request body is kept until `reset`: a long load run should reset between phases.
    """

    defaults: StandInConfig
    config: StandInConfig = attrs.field(init=False)
    _requests: list[RecordedRequest] = attrs.field(init=False, factory=list)
    _exchanges: list[Exchange] = attrs.field(init=False, factory=list)
    _faults: deque[Fault] = attrs.field(init=False, factory=deque)
    _changed: trio.Event = attrs.field(init=False, factory=trio.Event)
    _process_tag: str = attrs.field(init=False, factory=lambda: secrets.token_hex(4))
    _serial: int = attrs.field(init=False, default=0)

    def __attrs_post_init__(self) -> None:
        self.config = self.defaults

    def reset(self) -> None:
        """Forget requests, answers and queued faults; back to the default config.

        Answers still running keep their `Exchange` but no longer appear in the lists.
        """
        self.config = self.defaults
        self._requests.clear()
        self._exchanges.clear()
        self._faults.clear()
        self._notify()

    def add_faults(self, faults: list[Fault]) -> int:
        """Queue ``faults`` behind those already queued; returns how many are queued."""
        self._faults.extend(faults)
        return len(self._faults)

    def record(
        self, path: str, authorization: str | None, body: Any, *, stream: bool
    ) -> tuple[Exchange, Fault | None, StandInConfig]:
        """Record a model request; returns its live record, its fault (the next queued
        one, if any) and the config it is answered with."""
        n = len(self._requests)
        self._serial += 1
        exchange = Exchange(
            n=n, path=path, stream=stream, tag=f"{self._process_tag}{self._serial:06d}"
        )
        self._requests.append(
            RecordedRequest(n=n, path=path, authorization=authorization, body=body)
        )
        self._exchanges.append(exchange)
        fault = self._faults.popleft() if self._faults else None
        self._notify()
        return exchange, fault, self.config

    def finish(self, exchange: Exchange, outcome: Outcome, ended: float | None = None) -> None:
        """Mark ``exchange`` ended (now, unless ``ended`` says when) with ``outcome``."""
        exchange.outcome = outcome
        exchange.ended = time.monotonic() if ended is None else ended
        self._notify()

    def requests(self) -> list[RecordedRequest]:
        return list(self._requests)

    def streams(self) -> list[StreamRecord]:
        return [exchange.snapshot() for exchange in self._exchanges]

    async def wait_requests(self, count: int) -> list[RecordedRequest]:
        """Wait until at least ``count`` requests are recorded; returns them all."""
        while len(self._requests) < count:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        return self.requests()

    async def wait_ended(self, n: int) -> StreamRecord:
        """Wait until answer ``n`` exists and has ended; returns its record."""
        while n >= len(self._exchanges) or self._exchanges[n].ended is None:
            await self._changed.wait()
        await trio.lowlevel.checkpoint()
        return self._exchanges[n].snapshot()

    def _notify(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

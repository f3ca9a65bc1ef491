"""Whether the database is known to be down, and the probe that notices it is back.

Without this, every request during an outage waited for a pool connection that could not
come (``ROBOLEARN_DB_TIMEOUT``, 3 s by default, per query) before its 503. Now the first
query that fails as if the database were gone makes the probe try a fresh connection; if
that fails too, the outage is known and every query fails at once with
:class:`StoreUnavailable`, without touching the pool. While down, the probe tries again
every ``interval`` seconds; once it connects, the pool is checked (its broken connections
replaced) and must hand out a working connection before service resumes.

A failed query only *suggests* an outage: one broken connection (the server restarted a
moment ago) or a pool exhausted by load are not outages, and the probe, a fresh
connection outside the pool, tells them apart.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import anyio
import anyio.abc
import attrs

from robolearn._threads import threadsafe_caller

from ._errors import StoreUnavailable

__all__ = ["DatabaseHealth", "HealthStatistics"]

_log = logging.getLogger("robolearn.store")


@attrs.frozen
class HealthStatistics:
    """A snapshot of a :class:`DatabaseHealth`.

    ``down`` while an outage is known; ``outages`` counts the outages seen, ``probes`` the
    probes run (each a fresh connection), ``down_seconds`` how long the current outage has
    lasted (0 when up).
    """

    down: bool
    outages: int
    probes: int
    down_seconds: float


@attrs.define(eq=False)
class DatabaseHealth:
    """The database's known state; see the module's docstring.

    ``probe`` opens a fresh connection, runs a trivial query and raises on any failure.
    ``on_recovery`` runs once a probe succeeds after an outage, before service resumes; if
    it raises, the outage goes on.

    Read from any thread (:attr:`down`, :meth:`check`, :meth:`suspect`); changed only by
    :meth:`run`, in its task (trio's or asyncio's: it runs on either).
    """

    probe: Callable[[], Awaitable[None]]
    on_recovery: Callable[[], Awaitable[None]] | None = None
    interval: float = 0.5
    _down_since: float | None = attrs.field(default=None, init=False)
    _outages: int = attrs.field(default=0, init=False)
    _probes: int = attrs.field(default=0, init=False)
    _wake: anyio.Event = attrs.field(factory=anyio.Event, init=False, repr=False)
    # How another thread reaches run's loop; None while it is not running.
    _call_soon: Callable[[Callable[[], object]], None] | None = attrs.field(
        default=None, init=False, repr=False
    )

    @property
    def down(self) -> bool:
        return self._down_since is not None

    def statistics(self) -> HealthStatistics:
        since = self._down_since
        return HealthStatistics(
            down=since is not None,
            outages=self._outages,
            probes=self._probes,
            down_seconds=0.0 if since is None else anyio.current_time() - since,
        )

    def check(self) -> None:
        """Raise :class:`StoreUnavailable` at once while an outage is known."""
        if self._down_since is not None:
            raise StoreUnavailable("database unavailable (outage in progress)")

    def suspect(self) -> None:
        """A query failed as if the database were gone: probe now. Safe from any thread."""
        call_soon = self._call_soon
        if call_soon is None:
            return  # not running (a CLI command): the query's own error is all there is
        call_soon(self._poke)

    def _poke(self) -> None:
        self._wake.set()

    async def run(
        self, *, task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED
    ) -> None:
        """Probe whenever a query suggests an outage, and every ``interval`` while down."""
        self._call_soon = threadsafe_caller()
        try:
            task_status.started()
            while True:
                await self._wake.wait()
                self._wake = anyio.Event()
                while not await self._probe_once():
                    with anyio.move_on_after(self.interval):
                        await self._wake.wait()  # an embedded restart pokes it sooner
                    self._wake = anyio.Event()
        finally:
            self._call_soon = None

    async def _probe_once(self) -> bool:
        """True when the database answers (and, after an outage, the pool serves again)."""
        self._probes += 1
        try:
            await self.probe()
            if self.down and self.on_recovery is not None:
                await self.on_recovery()
        except Exception as exc:
            if self._down_since is None:
                self._down_since = anyio.current_time()
                self._outages += 1
                # The class only: a driver's message can name hosts and users.
                _log.warning(
                    "database unavailable (%s): answering 503 at once, probing every %.1f s",
                    type(exc).__name__,
                    self.interval,
                )
            return False
        if self._down_since is not None:
            _log.warning(
                "database available again after %.1f s", anyio.current_time() - self._down_since
            )
            self._down_since = None
        return True

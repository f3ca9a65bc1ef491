"""Supervision of the embedded PostgreSQL: when its postmaster dies, start it again.

Only a server that started the embedded PostgreSQL itself (no DATABASE_URL) supervises it.
One task watches the postmaster: on Linux it waits on a pidfd, which becomes readable the
moment the process exits (a zombie counts: a kill is seen at once, reaped or not);
elsewhere it polls. It then restarts the server with backoff, like an OTP supervisor's
restart delay: the first attempt ``Backoff.initial`` seconds after the death, each further
one (failed attempts, or deaths soon after a restart) twice as late, up to
``Backoff.maximum``; after ``Backoff.reset_after`` seconds up, the delay starts over.

A restart is :meth:`EmbeddedPostgres.start`, under the data dir's lock: if another process
sharing the data dir restarted the server first, the running one is adopted, never a second
one started. Once it is back, ``on_restart`` runs (``open_store`` passes the pool's
``check``, which replaces the connections the death broke, so the first requests after a
restart do not find them). The supervisor never crashes: a failed restart is logged and
tried again; only cancellation (shutdown) ends it.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Literal, Protocol

import anyio
import anyio.abc
import attrs

from ._embedded import EmbeddedPostgres, postmaster_running

__all__ = [
    "Backoff",
    "EmbeddedPostmaster",
    "PostgresSupervisor",
    "Postmaster",
    "Restarted",
    "SupervisorStatistics",
]

_log = logging.getLogger("robolearn.store.supervisor")


@attrs.frozen
class Backoff:
    """Delays before restart attempts: ``initial`` seconds, times ``factor`` after each
    attempt, at most ``maximum``; back to ``initial`` once the server stayed up
    ``reset_after`` seconds."""

    initial: float = 0.1
    factor: float = 2.0
    maximum: float = 5.0
    reset_after: float = 30.0


@attrs.frozen
class Restarted:
    """The outcome of a successful :meth:`Postmaster.restart`."""

    pid: int
    adopted: bool = False
    """Another process had restarted it already: this one only took it over."""


class Postmaster(Protocol):
    """The server a :class:`PostgresSupervisor` watches (injected: tests pass a fake)."""

    async def wait_exited(self, pid: int) -> None:
        """Return once process ``pid`` has exited (at once if it is gone already)."""

    async def restart(self, dead_pid: int) -> Restarted:
        """Start the server again (or adopt one another process started); raise on failure."""


@attrs.frozen
class SupervisorStatistics:
    """A snapshot of a :class:`PostgresSupervisor`.

    ``state`` is ``idle`` before :meth:`PostgresSupervisor.run`, ``up`` while the postmaster
    runs and ``restarting`` from its death until it is back. ``restarts`` counts the times
    this supervisor started it again, ``adoptions`` the times it found another process had.
    """

    state: Literal["idle", "up", "restarting"]
    pid: int | None
    restarts: int
    adoptions: int
    failed_attempts: int


@attrs.define
class PostgresSupervisor:
    """Keeps an embedded PostgreSQL running; see the module's docstring.

    Created by the caller (who reads its :meth:`statistics`), run by ``open_store``.
    """

    backoff: Backoff = attrs.field(factory=Backoff)
    _state: Literal["idle", "up", "restarting"] = attrs.field(default="idle", init=False)
    _pid: int | None = attrs.field(default=None, init=False)
    _restarts: int = attrs.field(default=0, init=False)
    _adoptions: int = attrs.field(default=0, init=False)
    _failed_attempts: int = attrs.field(default=0, init=False)

    @property
    def restarting(self) -> bool:
        """True from the postmaster's death until it is back."""
        return self._state == "restarting"

    def statistics(self) -> SupervisorStatistics:
        return SupervisorStatistics(
            state=self._state,
            pid=self._pid,
            restarts=self._restarts,
            adoptions=self._adoptions,
            failed_attempts=self._failed_attempts,
        )

    async def run(
        self,
        postmaster: Postmaster,
        pid: int,
        on_restart: Callable[[], Awaitable[None]] | None = None,
        *,
        task_status: anyio.abc.TaskStatus[None] = anyio.TASK_STATUS_IGNORED,
    ) -> None:
        """Watch postmaster ``pid`` and restart it whenever it dies, until cancelled."""
        if self._state != "idle":
            raise RuntimeError("a PostgresSupervisor runs once")
        self._pid, self._state = pid, "up"
        task_status.started()
        delay = self.backoff.initial
        while True:
            up_since = anyio.current_time()
            await postmaster.wait_exited(pid)
            died = anyio.current_time()
            if died - up_since >= self.backoff.reset_after:
                delay = self.backoff.initial
            self._state = "restarting"
            _log.warning("embedded PostgreSQL (pid %d) died; restarting it in %.1f s", pid, delay)
            attempt = 0
            while True:
                await anyio.sleep(delay)
                delay = min(delay * self.backoff.factor, self.backoff.maximum)
                attempt += 1
                try:
                    restarted = await postmaster.restart(pid)
                except Exception as exc:
                    self._failed_attempts += 1
                    _log.warning(
                        "restart %d of embedded PostgreSQL failed (%s); next attempt in %.1f s",
                        attempt,
                        exc,
                        delay,
                    )
                    continue
                break
            pid = self._pid = restarted.pid
            self._state = "up"
            if restarted.adopted:
                self._adoptions += 1
                _log.warning("embedded PostgreSQL was restarted by another process (pid %d)", pid)
            else:
                self._restarts += 1
                _log.warning(
                    "embedded PostgreSQL restarted (pid %d), %.2f s after it died (restart %d)",
                    pid,
                    anyio.current_time() - died,
                    self._restarts,
                )
            if on_restart is not None:
                try:
                    await on_restart()
                except Exception as exc:
                    _log.warning("after the restart of embedded PostgreSQL: %r", exc)


@attrs.frozen
class EmbeddedPostmaster:
    """The embedded PostgreSQL in ``data_dir`` as a :class:`Postmaster`."""

    data_dir: Path
    uri: str | None = None  # where the pool connects: a restart must bring it back there
    poll_interval: float = 0.5  # where there is no pidfd

    async def wait_exited(self, pid: int) -> None:
        try:
            pidfd = os.pidfd_open(pid)
        except ProcessLookupError:
            return
        except (AttributeError, OSError):  # not Linux, or pidfd_open forbidden (seccomp)
            # Another process's state, with no event to wait for: poll it.
            while postmaster_running(pid):  # noqa: ASYNC110
                await anyio.sleep(self.poll_interval)
            return
        try:
            # Still the postmaster, not a process that took its pid since it exited.
            if postmaster_running(pid):
                await anyio.wait_readable(pidfd)
        finally:
            os.close(pidfd)

    async def restart(self, dead_pid: int) -> Restarted:
        server = await anyio.to_thread.run_sync(EmbeddedPostgres.start, self.data_dir)
        if self.uri is not None and server.uri != self.uri:
            # The socket dir is derived from the data dir's path, so this should not happen.
            _log.error(
                "embedded PostgreSQL came back at %s, not at %s: restart robolearn",
                server.uri,
                self.uri,
            )
        return Restarted(server.pid, adopted=server.adopted and server.pid != dead_pid)

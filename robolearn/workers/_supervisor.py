"""Supervision of worker processes: keep N running, restart the ones that die, give up on a
crash loop.

An OTP supervisor, one_for_one, with permanent children: a worker that exits while nobody
asked it to (a crash, a ``kill -9``, even status 0) is started again, `Backoff.initial`
seconds after its death the first time, each further time twice as late if it died within
`Backoff.reset_after` seconds of its start, up to `Backoff.maximum`. More than
`RestartPolicy.intensity` restarts (all workers together) within `RestartPolicy.period`
seconds is a crash loop: the supervisor stops the other workers and gives up (`run` returns
False) rather than restart for ever what cannot run. So is a worker that dies before it
serves more than `RestartPolicy.intensity` times in a row, however long each attempt took
(a worker that takes 10 s to fail would otherwise stay under any rate), and, at once, one
that exits with status 2 before it serves: ``robolearn``'s configuration error (a bad
setting, a library outside its verified versions), which no restart mends.

Each worker inherits the listening sockets and one end of a socket pair, its control socket
(see `robolearn.workers._worker`): the worker writes `READY` on it once it serves; the
supervisor keeps its own end open for the worker's life, so that the worker sees the end of
the stream when the supervisor goes away, however it went. Workers run in sessions of their
own, so a Ctrl-C in a terminal reaches the supervisor alone, which passes it on: `stop` sends
SIGTERM (drain and exit) to every worker and restarts none; a worker still running
``stop_timeout`` seconds later is killed. The supervisor itself never crashes on a worker's
account: a worker that cannot even be spawned counts as one that died.
"""

from __future__ import annotations

import contextlib
import logging
import signal
import socket
import subprocess
from collections import deque
from collections.abc import Callable, Mapping, Sequence

import attrs
import trio
from hypercorn.config import Sockets

from robolearn.store import Backoff

from ._worker import READY, WorkerSpec

__all__ = ["RestartPolicy", "WorkerStatistics", "WorkerSupervisor"]

_log = logging.getLogger("robolearn.workers")

CONFIGURATION_ERROR = 2
"""The exit status of ``robolearn`` on a configuration error."""

Command = Callable[[WorkerSpec], Sequence[str]]
"""The command line that starts the worker a spec describes."""


@attrs.frozen
class RestartPolicy:
    """When a `WorkerSupervisor` restarts a worker, and when it gives up (see the module)."""

    backoff: Backoff = attrs.field(
        factory=lambda: Backoff(initial=0.5, factor=2.0, maximum=10.0, reset_after=30.0)
    )
    intensity: int = 5
    """Restarts allowed within `period` (and deaths before serving, in a row); one more and
    the supervisor gives up."""
    period: float = 60.0


@attrs.frozen
class WorkerStatistics:
    """A snapshot of a `WorkerSupervisor`: the workers running now (name to pid), how many of
    them said they serve, restarts so far, whether it is stopping or gave up, and whether it
    gave up on a worker's configuration error."""

    workers: int
    pids: Mapping[str, int]
    ready: int
    restarts: int
    stopping: bool
    gave_up: bool
    configuration_error: bool = False


@attrs.define
class WorkerSupervisor:
    """Keeps ``workers`` processes running ``command``; see the module's docstring."""

    command: Command
    sockets: Sockets
    """Listening sockets every worker inherits."""
    workers: int
    policy: RestartPolicy = attrs.field(factory=RestartPolicy)
    stop_timeout: float = 30.0
    _running: dict[str, trio.Process] = attrs.field(factory=dict, init=False)
    _ready: set[str] = attrs.field(factory=set, init=False)
    _changed: trio.Event = attrs.field(factory=trio.Event, init=False)
    _all_ready_once: bool = attrs.field(default=False, init=False)
    _stopping: trio.Event = attrs.field(factory=trio.Event, init=False)
    _restart_times: deque[float] = attrs.field(factory=deque, init=False)
    _restarts: int = attrs.field(default=0, init=False)
    _gave_up: bool = attrs.field(default=False, init=False)
    _configuration_error: bool = attrs.field(default=False, init=False)
    _ran: bool = attrs.field(default=False, init=False)

    def statistics(self) -> WorkerStatistics:
        return WorkerStatistics(
            workers=self.workers,
            pids={name: process.pid for name, process in self._running.items()},
            ready=len(self._ready),
            restarts=self._restarts,
            stopping=self._stopping.is_set(),
            gave_up=self._gave_up,
            configuration_error=self._configuration_error,
        )

    async def run(self, env: Mapping[str, str]) -> bool:
        """Run the workers (with environment ``env``) until `stop`, and until every worker has
        exited. True after a `stop`, False if the supervisor gave up on a crash loop."""
        if self._ran:
            raise RuntimeError("a WorkerSupervisor runs once")
        self._ran = True
        async with trio.open_nursery() as outer:
            outer.start_soon(self._kill_stragglers)
            async with trio.open_nursery() as slots:
                for number in range(1, self.workers + 1):
                    slots.start_soon(self._keep, f"worker-{number}", env)
            outer.cancel_scope.cancel()
        _log.info("all %d workers have exited", self.workers)
        return not self._gave_up

    def stop(self) -> None:
        """Send SIGTERM to every worker (they drain and exit) and restart none; close the
        listening sockets."""
        if self._stopping.is_set():
            return
        self._stopping.set()
        self._note_change()
        for process in self._running.values():
            with contextlib.suppress(ProcessLookupError):
                process.send_signal(signal.SIGTERM)
        # A draining worker closes its copy of a listening socket; while this process kept
        # its own, the kernel went on queueing connections nobody would accept until they
        # were reset at exit. Closed, they are refused at once, as by a single server.
        for sock in (*self.sockets.secure_sockets, *self.sockets.insecure_sockets):
            sock.close()

    async def wait_until(self, done: Callable[[WorkerStatistics], bool]) -> None:
        """Return once ``done(self.statistics())`` is true (at once if it is now)."""
        while not done(self.statistics()):
            await self._changed.wait()

    def _note_change(self) -> None:
        self._changed.set()
        self._changed = trio.Event()

    async def _keep(self, name: str, env: Mapping[str, str]) -> None:
        """Keep worker ``name`` running until `stop` (or until the supervisor gives up)."""
        backoff = self.policy.backoff
        delay = backoff.initial
        failed_starts = 0  # deaths in a row before the worker said it serves
        while not self._stopping.is_set():
            started = trio.current_time()
            ended, served, status = await self._run_once(name, env)
            if self._stopping.is_set():
                _log.info("%s %s", name, ended)
                return
            if trio.current_time() - started >= backoff.reset_after:
                delay = backoff.initial
            failed_starts = 0 if served else failed_starts + 1
            if not served and status == CONFIGURATION_ERROR:
                self._configuration_error = True
                why = "a configuration error (see its log); no restart mends that"
            elif failed_starts > self.policy.intensity:
                # However slowly a worker fails to start, it is not going to.
                why = f"died before it served {failed_starts} times in a row"
            elif not self._may_restart():
                why = f"more than {self.policy.intensity} restarts within {self.policy.period:g} s"
            else:
                why = None
            if why is not None:
                _log.error("%s %s: %s, giving up (stopping the others)", name, ended, why)
                self._gave_up = True
                self.stop()  # and notes the change
                return
            _log.error("%s %s; restarting it in %.1f s", name, ended, delay)
            with trio.move_on_after(delay):
                await self._stopping.wait()
            delay = min(delay * backoff.factor, backoff.maximum)
            if not self._stopping.is_set():
                self._restarts += 1
                self._note_change()

    def _may_restart(self) -> bool:
        now = trio.current_time()
        self._restart_times.append(now)
        while self._restart_times[0] < now - self.policy.period:
            self._restart_times.popleft()
        return len(self._restart_times) <= self.policy.intensity

    async def _run_once(self, name: str, env: Mapping[str, str]) -> tuple[str, bool, int | None]:
        """Start worker ``name`` and wait for its end; says how it ended, whether it had said
        it serves, and its exit status (None if it never ran)."""
        ours, theirs = socket.socketpair()
        with trio.socket.from_stdlib_socket(ours) as control:
            try:
                spec = WorkerSpec(
                    name,
                    theirs.fileno(),
                    http=tuple(sock.fileno() for sock in self.sockets.insecure_sockets),
                    https=tuple(sock.fileno() for sock in self.sockets.secure_sockets),
                )
                process = await trio.lowlevel.open_process(
                    list(self.command(spec)),
                    env=dict(env),
                    pass_fds=spec.fds,
                    start_new_session=True,  # signals come from the supervisor only
                    stdin=subprocess.DEVNULL,
                )
            except OSError as exc:
                return f"could not be started ({exc})", False, None
            finally:
                theirs.close()
            self._running[name] = process
            self._note_change()
            _log.info("%s started (pid %d)", name, process.pid)
            if self._stopping.is_set():  # stop() came while it was being spawned
                process.send_signal(signal.SIGTERM)
            try:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._note_ready, name, process.pid, control)
                    await process.wait()
                    nursery.cancel_scope.cancel()
            finally:
                served = name in self._ready
                del self._running[name]
                self._set_ready(name, False)  # and notes the change
                if process.returncode is None:  # cancelled: no worker outlives its supervisor
                    process.kill()
        return f"(pid {process.pid}) {_exit(process.returncode)}", served, process.returncode

    async def _note_ready(self, name: str, pid: int, control: trio.socket.SocketType) -> None:
        with contextlib.suppress(OSError):
            if await control.recv(len(READY)) == READY:
                _log.info("%s ready (pid %d)", name, pid)
                self._set_ready(name, True)

    def _set_ready(self, name: str, ready: bool) -> None:
        if ready:
            self._ready.add(name)
        else:
            self._ready.discard(name)
        if len(self._ready) == self.workers and not self._all_ready_once:
            self._all_ready_once = True
            _log.info("all %d workers ready", self.workers)
        self._note_change()

    async def _kill_stragglers(self) -> None:
        await self._stopping.wait()
        await trio.sleep(self.stop_timeout)
        for name, process in self._running.items():
            _log.warning(
                "%s (pid %d) still running %g s after SIGTERM: killing it",
                name,
                process.pid,
                self.stop_timeout,
            )
            process.kill()


def _exit(returncode: int | None) -> str:
    if returncode is not None and returncode < 0:
        try:
            return f"was killed by {signal.Signals(-returncode).name}"
        except ValueError:
            return f"was killed by signal {-returncode}"
    return f"exited with status {returncode}"

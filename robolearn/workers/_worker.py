"""One worker of ``robolearn serve --workers N``: the whole server, on the supervisor's sockets.

The supervisor starts each worker as ``python -m robolearn serve --worker SPEC``, SPEC naming
the worker and the file descriptors it inherits (`WorkerSpec`). A worker is the
single-process server (`robolearn.serve.serve`: its own trio loop, services, actors and
connection pool) except that it serves the listening sockets it inherited instead of binding
its own, names itself in ``/metrics``, and holds one end of a socket pair with the supervisor
(its control socket). It writes `READY` there once it serves. Nothing is ever sent the other
way: the only thing a worker can read from it is the end of the stream, which comes when the
supervisor is gone, however it went (a ``kill -9`` too). The worker then shuts down as on
SIGTERM, so no worker outlives its supervisor holding the port.
"""

from __future__ import annotations

import contextlib
import json
import logging
import socket

import attrs
import trio
from hypercorn.config import Sockets

from robolearn.config import Settings

__all__ = ["READY", "WorkerSpec", "run_worker"]

_log = logging.getLogger("robolearn.workers")

READY = b"ready\n"
"""What a worker writes on its control socket once it serves."""


@attrs.frozen
class WorkerSpec:
    """What a worker is told on its command line: its name and its inherited descriptors."""

    name: str
    control: int
    """The worker's end of its control socket (a socket pair with the supervisor)."""
    http: tuple[int, ...] = ()
    """Listening sockets, plain HTTP."""
    https: tuple[int, ...] = ()
    """Listening sockets, TLS (when ``hypercorn.toml`` configures a certificate)."""

    @property
    def fds(self) -> tuple[int, ...]:
        """Every descriptor the worker inherits (``pass_fds``)."""
        return (self.control, *self.http, *self.https)

    def encode(self) -> str:
        return json.dumps(
            {"name": self.name, "control": self.control, "http": self.http, "https": self.https},
            separators=(",", ":"),
        )

    @classmethod
    def decode(cls, text: str) -> WorkerSpec:
        """The spec `encode` wrote; ValueError for anything else."""
        try:
            raw = json.loads(text)
            return cls(
                name=str(raw["name"]),
                control=int(raw["control"]),
                http=tuple(int(fd) for fd in raw["http"]),
                https=tuple(int(fd) for fd in raw["https"]),
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ValueError(f"not a worker spec: {text!r}") from exc

    def sockets(self) -> Sockets:
        """The inherited listening sockets, as hypercorn's ``create_sockets`` returns them."""
        return Sockets(
            secure_sockets=[socket.socket(fileno=fd) for fd in self.https],
            insecure_sockets=[socket.socket(fileno=fd) for fd in self.http],
            quic_sockets=[],
        )


async def run_worker(settings: Settings, spec: WorkerSpec) -> None:
    """Serve as worker ``spec.name`` until SIGTERM/SIGINT or until the supervisor is gone."""
    # Imported here: the supervisor imports this package and must not load the app.
    from robolearn._patches import install
    from robolearn.serve import serve

    # Outside any nursery, so that a library outside its verified versions ends the worker
    # as a configuration error (status 2, one line naming the package), not a traceback in
    # an exception group. `serve` installs them again (a no-op).
    install(settings)
    stop = trio.Event()
    with trio.socket.from_stdlib_socket(socket.socket(fileno=spec.control)) as control:
        async with trio.open_nursery() as nursery:

            async def serving(task_status: trio.TaskStatus[list[str]]) -> None:
                await serve(
                    settings,
                    process=spec.name,
                    sockets=spec.sockets(),
                    stop=stop,
                    task_status=task_status,
                )
                nursery.cancel_scope.cancel()  # the watch on the supervisor, too

            nursery.start_soon(_stop_when_supervisor_gone, control, stop)
            await nursery.start(serving)
            with contextlib.suppress(OSError):  # the supervisor is gone: the watch sees it too
                await control.send(READY)


async def _stop_when_supervisor_gone(control: trio.socket.SocketType, stop: trio.Event) -> None:
    with contextlib.suppress(OSError):
        await control.recv(1)  # nothing is ever sent: this is the end of the stream
    _log.warning("the supervisor is gone: shutting down")
    stop.set()

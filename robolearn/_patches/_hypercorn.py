"""Hypercorn on trio: its trio worker, copied, with connections that keep their deadlines
on every route.

Hypercorn builds its listeners and connections inside its worker
(``hypercorn.trio.run.worker_serve``), so :func:`serve_app` is that worker with ours: the
same lifespan, connection handling and graceful shutdown (HTTP/3 and ``max_requests`` are
not served). One patch, which ``ROBOLEARN_UNPATCHED`` can leave out:

``worker``
    The copied worker and `_TCPServer`'s deadlines: a request head gets
    ``ROBOLEARN_HEADER_TIMEOUT`` and a kept-alive connection ``keep_alive_timeout`` after
    any route, and a connection the client closed is let go at once. Stock hypercorn lost
    its timer restarts and its ``Closed`` events when quart-trio cancelled a route's task
    (an idle kept-alive connection stayed open past 130 s; commit 5d389d6, issue 17), and
    waited out its 75 s keep-alive timer after a client closed (commit 846ed48). A
    correctness fix, no speed figure. Left out, ``hypercorn.trio.run.worker_serve`` serves
    as it is.

Dropped after an interleaved A/B no longer showed their gain (issue 20; figures in
docs/benchmarks.md): ``accept``, a listener taking every waiting connection in one go
(``ROBOLEARN_UNPATCHED=accept`` at 500 streams: 1.036 and 1.085x throughput, the last
first event 0.90x), and ``writes``, chunks written straight to the socket (1.078 and 1.001x
throughput).

`_TCPServer` overrides private parts of hypercorn's trio ``TCPServer`` (``_read_data``,
``_idle_timeout``, ``_initiate_server_close``, ``_close``, ``send_lock``, ``idle_task``,
``MAX_RECV``), verified on hypercorn 0.18. Upstream report: docs/upstream.md.
"""

from __future__ import annotations

import math
import socket
from collections.abc import Awaitable, Callable
from functools import partial

import hypercorn.trio.run
import trio
from hypercorn.config import Config, Sockets
from hypercorn.events import Closed, Event, RawData, Updated
from hypercorn.trio import tcp_server
from hypercorn.trio.lifespan import Lifespan
from hypercorn.trio.statsd import StatsdLogger
from hypercorn.trio.tcp_server import TCPServer
from hypercorn.trio.worker_context import WorkerContext
from hypercorn.typing import AppWrapper, ConnectionState, Framework, LifespanState
from hypercorn.utils import ShutdownError, raise_shutdown, wrap_app

from robolearn._hypercorn import bound_urls

from ._core import Library, Patches, set_in_init

__all__ = ["LIBRARY", "install", "serve_app"]

WORKER = "worker"

LIBRARY = Library("hypercorn", (WORKER,), lowest=(0, 18), below=(0, 19))

_EVERY = Patches(frozenset(LIBRARY.patches))

# What `_TCPServer` overrides or uses of hypercorn's: methods, and attributes its __init__ sets.
_METHODS = ("_read_data", "_idle_timeout", "_initiate_server_close", "_close", "protocol_send")
_SET_IN_INIT = ("send_lock", "idle_task", "stream")

# Read as hypercorn's connections read (a missing one fails `install`, not the import).
_MAX_RECV: int = getattr(tcp_server, "MAX_RECV", 2**16)


def install(patches: Patches) -> None:
    """Check that hypercorn is what `serve_app`'s patches were written for (with ``worker``).

    Nothing to swap: `serve_app` serves with the patches it is given.
    """
    if WORKER not in patches:
        return
    version = LIBRARY.check_version()
    missing = [f"TCPServer.{name}" for name in _METHODS if not hasattr(TCPServer, name)]
    assigned = set_in_init(TCPServer)
    missing += [f"TCPServer().{name}" for name in _SET_IN_INIT if name not in assigned]
    if not hasattr(tcp_server, "MAX_RECV"):
        missing.append("hypercorn.trio.tcp_server.MAX_RECV")
    if not hasattr(hypercorn.trio.run, "worker_serve"):
        missing.append("hypercorn.trio.run.worker_serve")
    LIBRARY.require(version, missing)


class _TCPServer(TCPServer):
    """Hypercorn's connection, with deadlines that hold for every route.

    Deadlines. A connection waits for a request head for ``header_timeout`` seconds: from the
    moment it is accepted, or, once kept alive after an answer, from the first byte of its
    next request; a kept-alive connection that gets no byte for ``config.keep_alive_timeout``
    seconds is closed. From a complete head until the answer is over the connection has no
    deadline of its own (a streamed answer may take minutes while the client sends nothing;
    the pace of a request body is `BodyGuard`'s). Either deadline closes the connection
    without an answer: there is no request to answer.

    Hypercorn keeps one timer, restarted and stopped by the ``Updated`` events its protocol
    sends. Those come from the route's task, in its ``send`` calls, and awaited there: when
    that task is cancelled as the answer ends (quart-trio cancels every route's task group
    then), the restart was lost and a kept-alive connection waited for its next request for
    ever. Its ``Closed`` event was lost the same way, leaving open a connection hypercorn
    meant to close. Here ``Updated`` only moves a deadline (no await), a watchdog task of the
    connection's own enforces it, and the close ``Closed`` asks for is shielded. A head that
    trickles in a byte at a time was never cut at all: hypercorn's timer ran only until the
    first request, and its ``read_timeout`` restarts with every byte (and, applied to every
    read, it would also cut clients that wait quietly for a long answer).

    Also lets go of a connection as soon as the client has closed it: hypercorn's own waits
    out its keep-alive timer after a client closes an idle connection: the timer task
    outlives the connection.
    """

    def __init__(
        self,
        app: AppWrapper,
        config: Config,
        context: WorkerContext,
        state: LifespanState,
        stream: trio.SSLStream[trio.SocketStream],
        *,
        header_timeout: float | None = None,
    ) -> None:
        super().__init__(app, config, context, state, stream)
        self._header_timeout = (
            config.keep_alive_timeout if header_timeout is None else header_timeout
        )
        self._busy = False  # from a request's complete head until its answer is over
        self._between_requests = False  # kept alive, no byte of the next request yet
        self._deadline = math.inf  # set when the connection starts (`_idle_timeout`)
        self._watch: trio.CancelScope | None = None

    async def protocol_send(self, event: Event) -> None:
        if type(event) is Updated:
            if event.idle:  # the answer is over and the connection kept alive
                self._busy, self._between_requests = False, True
                self._set_deadline(trio.current_time() + self.config.keep_alive_timeout)
            else:  # a request's head is complete
                self._busy, self._between_requests = True, False
                self._set_deadline(math.inf)
            return
        if type(event) is Closed:
            with trio.CancelScope(shield=True):
                # After the write under way, if any (another task's answer, a 408): closing
                # beside it fails that write with trio's BusyResourceError and cuts its bytes.
                async with self.send_lock:
                    await self._close()
            await self.protocol.handle(Closed())
            return
        await super().protocol_send(event)

    def _set_deadline(self, deadline: float) -> None:
        self._deadline = deadline
        if self._watch is not None:
            self._watch.deadline = deadline

    async def _read_data(self) -> None:
        # Hypercorn's loop, which also notes where the next request on a kept-alive
        # connection begins.
        while True:
            try:
                with trio.fail_after(self.config.read_timeout or math.inf):
                    data = await self.stream.receive_some(_MAX_RECV)
            except (trio.ClosedResourceError, trio.BrokenResourceError, trio.TooSlowError):
                break
            if data and self._between_requests:
                self._between_requests = False
                self._set_deadline(trio.current_time() + self._header_timeout)
            await self.protocol.handle(RawData(bytes(data)))
            if not data:
                break
        await self.protocol.handle(Closed())
        await self.idle_task.stop()

    async def _idle_timeout(self) -> None:
        # Hypercorn starts this once per connection (``run``; ``Updated`` no longer restarts
        # it), before it reads a byte, and `_read_data` stops it when the connection is over.
        self._deadline = trio.current_time() + self._header_timeout  # the first request's head
        while True:
            with trio.CancelScope(deadline=self._deadline) as self._watch:
                await self.context.terminated.wait()
                if not self._busy:
                    break  # shutting down: a connection without a request goes at once
                # Hypercorn does not keep a connection alive once shutting down: it closes
                # after its answer.
                await trio.sleep_forever()
            # After a stall of the whole loop the deadline may pass while the head waits,
            # already received, for the reader: the reader is woken in the same scheduler
            # pass as this task. One checkpoint lets it take the head (which lifts the
            # deadline) before the connection is judged: the client was on time, the server
            # was not.
            await trio.lowlevel.checkpoint()
            if trio.current_time() >= self._deadline:
                break
        with trio.CancelScope(shield=True):
            await self._initiate_server_close()


async def serve_app(
    app: Framework,
    config: Config,
    *,
    shutdown_trigger: Callable[[], Awaitable[None]],
    header_timeout: float | None = None,
    sockets: Sockets | None = None,
    patches: Patches = _EVERY,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` as ``hypercorn.trio.serve`` does, until ``shutdown_trigger`` returns.

    Reports the bound URLs through ``task_status``. After the trigger, open connections get
    ``config.graceful_timeout`` seconds to finish. HTTP/3 (QUIC) is not served.

    ``sockets``: sockets bound by another process and inherited (``robolearn serve
    --workers``), served instead of binding ``config.bind``.

    A connection has ``header_timeout`` seconds (default: ``config.keep_alive_timeout``, as
    in hypercorn) for each request head and ``config.keep_alive_timeout`` to start its next
    request; see `_TCPServer`.

    ``patches``: those of this module to serve with (default: all); without ``worker`` it is
    hypercorn's own worker, and ``header_timeout`` is not enforced.
    """
    asgi = wrap_app(app, config.wsgi_max_body_size, None)
    if WORKER not in patches:
        await _serve_stock(asgi, config, shutdown_trigger, sockets, task_status)
        return
    config.set_statsd_logger_class(StatsdLogger)
    lifespan_state: LifespanState = {}
    lifespan = Lifespan(asgi, config, lifespan_state)
    context = WorkerContext(None)
    async with trio.open_nursery() as lifespan_nursery:
        await lifespan_nursery.start(lifespan.handle_lifespan)
        await lifespan.wait_for_startup()
        async with trio.open_nursery() as server_nursery:
            listeners, binds = _listeners(config, sockets or config.create_sockets())
            for bind in binds:
                await config.log.info(f"Running on {bind} (CTRL + C to quit)")
            task_status.started(binds)
            try:
                async with trio.open_nursery(strict_exception_groups=True) as nursery:
                    nursery.start_soon(raise_shutdown, shutdown_trigger)
                    nursery.start_soon(raise_shutdown, context.terminate.wait)
                    handler = partial(
                        _TCPServer,
                        asgi,
                        config,
                        context,
                        ConnectionState(lifespan_state.copy()),
                        header_timeout=header_timeout,
                    )
                    nursery.start_soon(
                        partial(
                            trio.serve_listeners, handler, listeners, handler_nursery=server_nursery
                        )
                    )
                    await trio.sleep_forever()
            except BaseExceptionGroup as error:
                _, other_errors = error.split((ShutdownError, KeyboardInterrupt))
                if other_errors is not None:
                    raise other_errors from None
            finally:
                await context.terminated.set()
                server_nursery.cancel_scope.deadline = trio.current_time() + config.graceful_timeout
        await lifespan.wait_for_shutdown()
        lifespan_nursery.cancel_scope.cancel()


async def _serve_stock(
    asgi: AppWrapper,
    config: Config,
    shutdown_trigger: Callable[[], Awaitable[None]],
    sockets: Sockets | None,
    task_status: trio.TaskStatus[list[str]],
) -> None:
    if sockets is not None:
        _listen(config, sockets)  # as hypercorn's ``trio_worker`` does with sockets it is given
    await hypercorn.trio.run.worker_serve(
        asgi, config, sockets=sockets, shutdown_trigger=shutdown_trigger, task_status=task_status
    )


def _listen(config: Config, sockets: Sockets) -> None:
    # listen() again on an inherited socket that listens already only sets the same backlog.
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
        sock.listen(config.backlog)


def _listeners(
    config: Config, sockets: Sockets
) -> tuple[list[trio.abc.Listener[trio.abc.Stream]], list[str]]:
    _listen(config, sockets)

    def listener(sock: socket.socket) -> trio.abc.Listener[trio.SocketStream]:
        return trio.SocketListener(trio.socket.from_stdlib_socket(sock))

    listeners: list[trio.abc.Listener[trio.abc.Stream]] = []
    for sock in sockets.secure_sockets:
        ssl_context = config.create_ssl_context()
        assert ssl_context is not None  # secure sockets exist only when TLS is configured
        listeners.append(trio.SSLListener(listener(sock), ssl_context, https_compatible=True))
    listeners += [listener(sock) for sock in sockets.insecure_sockets]
    return listeners, bound_urls(sockets)

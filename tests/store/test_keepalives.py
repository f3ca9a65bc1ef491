"""Sessions that hold advisory locks ask the server for short TCP keepalives, so a client host
that vanished frees its thread locks and stream slots in seconds, not the kernel's two hours.

The settings only exist on TCP connections (on a Unix socket they read as 0), so this starts
a PostgreSQL of its own listening on loopback.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from robolearn.bench import free_port, pg_ctl
from robolearn.store import EmbeddedPostgres, PostgresStore, open_store
from robolearn.store._session import PgSession

EXPECTED = {"tcp_keepalives_idle": "5", "tcp_keepalives_interval": "2", "tcp_keepalives_count": "3"}


@pytest.fixture
async def tcp_url(tmp_path: Path) -> AsyncIterator[str]:
    postgres = await trio.to_thread.run_sync(EmbeddedPostgres.start, tmp_path / "pg")
    port = free_port()
    pgdata = tmp_path / "pg" / "pgdata"
    options = f"-h 127.0.0.1 -p {port} -k {pgdata}"
    await trio.to_thread.run_sync(lambda: pg_ctl(postgres, "-w", "-o", options, "restart"))
    try:
        yield f"postgresql://postgres@127.0.0.1:{port}/postgres"
    finally:
        await trio.to_thread.run_sync(lambda: pg_ctl(postgres, "-w", "-m", "fast", "stop"))


async def test_lock_sessions_ask_for_short_keepalives(tcp_url: str) -> None:
    session = await PgSession.connect(tcp_url, connect_timeout=5)
    try:
        shown = {}
        for name in EXPECTED:
            (result,) = await session.query(f"SHOW {name}")
            value = result.get_value(0, 0)
            assert value is not None
            shown[name] = value.decode()
    finally:
        session.close()
    assert shown == EXPECTED

    store: PostgresStore
    async with open_store(tcp_url, pool_min=1, pool_max=2) as store:
        conn = await trio.to_thread.run_sync(store.connect_dedicated, "stream slots")
        try:
            dedicated = {
                name: str(conn.execute(f"SHOW {name}").fetchone()[0])  # type: ignore[index]
                for name in EXPECTED
            }
        finally:
            conn.close()
        # The pool's connections hold no session locks: they keep the server's defaults.
        pooled = await store.run(lambda c: c.execute("SHOW tcp_keepalives_idle").fetchone())
    assert dedicated == EXPECTED
    assert pooled is not None and pooled[0] != "5"

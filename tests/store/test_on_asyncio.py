"""open_store outside robolearn's loop: on plain asyncio, as another ChatKit server uses it.

chatkit's own store suite runs there too (test_chatkit_suite.py); these cover what it does
not: the health probe, the embedded server and its supervisor, and how the block's errors
come out (on both loops).
"""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from robolearn.store import (
    EmbeddedPostgres,
    PostgresSupervisor,
    StoreUnavailable,
    open_store,
)

from .._plain_asyncio import run_on_plain_asyncio
from ._factories import ALICE, thread, user_message

README = Path(__file__).parents[2] / "README.md"


def test_the_readme_example_runs_in_a_program_that_uses_only_the_store(database_url: str) -> None:
    section = README.read_text().split("### Using the store in your own ChatKit server")[1]
    code = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert code is not None
    # Run as a program of its own: importing the store must leave asyncio alone (trio_asyncio,
    # once imported, would hand asyncio.run a trio-asyncio loop).
    program = code[1] + "import sys\nassert 'trio_asyncio' not in sys.modules\n"
    strict = [
        "-W",
        "error",
        "-W",
        "ignore:Direct usage of named widget classes:DeprecationWarning",
    ]
    ran = subprocess.run(
        [sys.executable, *strict, "-c", program],
        env={**os.environ, "DATABASE_URL": database_url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert ran.returncode == 0, ran.stderr
    assert re.fullmatch(r"\['thr_[0-9a-f]{32}'\]\n", ran.stdout), ran.stdout


def test_an_error_in_the_block_comes_out_as_itself_on_asyncio(database_url: str) -> None:
    async def main() -> None:
        async with open_store(database_url, pool_min=1):
            raise LookupError("from the block")

    # Not an ExceptionGroup from the store's background tasks: pytest.raises would not match.
    with pytest.raises(LookupError, match="from the block"):
        run_on_plain_asyncio(main)


async def test_an_error_in_the_block_comes_out_as_itself_on_trio(database_url: str) -> None:
    with pytest.raises(LookupError, match="from the block"):
        async with open_store(database_url, pool_min=1):
            raise LookupError("from the block")


def test_an_outage_is_noticed_and_healed_on_asyncio(
    pg_server: EmbeddedPostgres, database_url: str
) -> None:
    # A URL whose database does not exist yet stands in for a database that is down.
    name = database_url.rsplit("/", 1)[1].split("?")[0] + "_later"
    missing = pg_server.uri_for(name)

    async def main() -> None:
        async with open_store(missing, pool_min=0, db_timeout=0.5) as store:
            health = store.health
            assert health is not None
            with pytest.raises(StoreUnavailable):
                await store.load_thread("thr_test", ALICE)
            async with asyncio.timeout(10):
                # The failed query (in a worker thread) woke the probe in this loop.
                while not health.down:  # noqa: ASYNC110 -- set by the probe task
                    await asyncio.sleep(0.01)
            with pytest.raises(StoreUnavailable, match="outage in progress"):
                await store.load_thread("thr_test", ALICE)
            with psycopg.connect(pg_server.uri, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"'.encode())
            async with asyncio.timeout(20):
                while health.down:  # noqa: ASYNC110 -- the probe retries every interval
                    await asyncio.sleep(0.05)
            await store.save_thread(thread(), ALICE)
            assert (await store.load_thread("thr_test", ALICE)).id == "thr_test"
            assert health.statistics().outages == 1

    try:
        run_on_plain_asyncio(main)
    finally:
        with psycopg.connect(pg_server.uri, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'.encode())


@pytest.fixture
def pg_dir() -> Iterator[Path]:
    # Outside pytest's basetemp, as in test_embedded_recovery.py.
    path = Path(tempfile.mkdtemp(prefix="robolearn-test-asyncio-pg-"))
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="the supervisor waits on a pidfd")
def test_embedded_postgres_is_supervised_on_asyncio(pg_dir: Path) -> None:
    supervisor = PostgresSupervisor()

    async def main() -> None:
        async with open_store(data_dir=pg_dir, pool_min=1, supervisor=supervisor) as store:
            await store.save_thread(thread(), ALICE)
            await store.add_thread_item("thr_test", user_message("msg_1", "kept"), ALICE)
            first = supervisor.statistics().pid
            assert first is not None
            os.kill(first, signal.SIGKILL)
            async with asyncio.timeout(60):
                while supervisor.statistics().restarts < 1:  # noqa: ASYNC110 -- other processes
                    await asyncio.sleep(0.05)
                while True:
                    # Until the restart's pool check has replaced the connections it broke.
                    try:
                        item = await store.load_item("thr_test", "msg_1", ALICE)
                        break
                    except StoreUnavailable:
                        await asyncio.sleep(0.1)
            assert item.content[0].text == "kept"  # type: ignore[union-attr]
            assert supervisor.statistics().pid != first
        # The block's end stopped the server it started.
        assert not (pg_dir / "pgdata" / "postmaster.pid").exists()

    run_on_plain_asyncio(main)

"""chatkit's own store tests (`_chatkit_suite.TestStore`) on PostgresStore, on every loop the
store serves: plain asyncio (``asyncio.run``, as any other ChatKit server runs), and in the
server's trio loop, called both from an asyncio task under the bridge (as chatkit calls it)
and from trio code (HTTP reads, CLI). Each test gets a fresh database and a store opened on
the loop it runs on.
"""

from __future__ import annotations

import pytest
import sniffio

from robolearn import _aio
from robolearn.store import PostgresStore, open_store

from .._plain_asyncio import run_on_plain_asyncio
from . import _chatkit_suite

CASES = sorted(name for name in vars(_chatkit_suite.TestStore) if name.startswith("test_"))


class _OnPostgres(_chatkit_suite.TestStore):
    """chatkit's suite, on a store the test opened (its setup and teardown have nothing to do)."""

    def __init__(self, store: PostgresStore) -> None:
        self.store = store

    def setup_method(self, method: object) -> None:
        pass

    def teardown_method(self, method: object) -> None:
        pass


async def _run_case(store: PostgresStore, name: str) -> None:
    suite = _OnPostgres(store)
    method = getattr(suite, name)
    suite.setup_method(method)
    try:
        await method()
    finally:
        suite.teardown_method(method)


def test_the_whole_suite_is_run() -> None:
    # 14 in chatkit 1.6.5: a chatkit upgrade that adds or drops one shows up here.
    assert len(CASES) == 14


@pytest.mark.parametrize("name", CASES)
def test_on_plain_asyncio(database_url: str, name: str) -> None:
    async def main() -> None:
        async with open_store(database_url, pool_min=1) as store:
            await _run_case(store, name)

    run_on_plain_asyncio(main)


@pytest.mark.parametrize("name", CASES)
async def test_in_the_servers_loop_from_asyncio(database_url: str, name: str) -> None:
    async def case() -> None:
        assert sniffio.current_async_library() == "asyncio"
        await _run_case(store, name)

    async with _aio.open_asyncio_loop(), open_store(database_url, pool_min=1) as store:
        await _aio.run_aio(case)


@pytest.mark.parametrize("name", CASES)
async def test_in_the_servers_loop_from_trio(database_url: str, name: str) -> None:
    async with _aio.open_asyncio_loop(), open_store(database_url, pool_min=1) as store:
        await _run_case(store, name)

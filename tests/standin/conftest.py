"""One stand-in process for the whole session, and a fresh handle on it per test.

pytest-trio runs each test in its own trio loop and allows only function-scoped async
fixtures, so the session's stand-in is owned by `open_standin` running in a trio loop of
its own, in a helper thread; each test gets a `StandIn` (from `connect_standin`) bound to
its own loop, after a reset, so tests do not see each other's requests, faults or config.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import AsyncIterator, Iterator

import attrs
import httpx
import openai
import pytest
import trio

from robolearn.standin import StandIn, connect_standin, open_standin


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


@pytest.fixture
def sdk(standin: StandIn) -> Iterator[openai.OpenAI]:
    """The sync OpenAI client (call it in ``trio.to_thread.run_sync``): no retries, no proxies."""
    with httpx.Client(trust_env=False) as http:
        yield openai.OpenAI(
            base_url=standin.base_url, api_key="sk-standin-test", max_retries=0, http_client=http
        )

"""Running code on asyncio's own loop, as a ChatKit server that uses only the store does."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

_T = TypeVar("_T")


def run_on_plain_asyncio(main: Callable[[], Awaitable[_T]]) -> _T:
    """``asyncio.run(main())`` on asyncio's own event loop.

    Not ``asyncio.run`` itself: once trio_asyncio is imported (this test process imports the
    whole server), ``asyncio.run`` gets trio-asyncio's loop. A program that imports only
    ``robolearn.store`` never imports trio_asyncio (tests/store/test_on_asyncio.py checks).
    """

    async def run() -> _T:
        return await main()

    with asyncio.Runner(loop_factory=asyncio.SelectorEventLoop) as runner:
        loop = runner.get_loop()
        assert type(loop) is asyncio.SelectorEventLoop
        return runner.run(run())

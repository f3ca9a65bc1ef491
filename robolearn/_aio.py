"""The one bridge between trio and asyncio.

The server runs in a single trio event loop. ``openai-agents`` and chatkit's streaming path are
asyncio code, so they run inside a trio-asyncio loop opened by :func:`open_asyncio_loop`. Every
other module sees trio only; this is the only module that imports :mod:`asyncio` or
:mod:`trio_asyncio`.

The database is reached through psycopg's synchronous pool in worker threads
(:func:`run_sync_in_thread`), never through psycopg's asyncio API, which breaks under
trio-asyncio when psycopg is imported first.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import sniffio
import trio
import trio_asyncio

__all__ = ["open_asyncio_loop", "run_sync_in_thread"]

_T = TypeVar("_T")

_log = logging.getLogger("robolearn.aio")


def _log_only_exception_handler(loop: object, context: dict[str, Any]) -> None:
    # The default handler re-raises errors of orphaned asyncio tasks and tears the shared loop
    # down with them; one stray task must never take the whole server with it.
    exc = context.get("exception")
    _log.error(
        "unhandled asyncio error: %s",
        context.get("message", "no message"),
        exc_info=exc if isinstance(exc, BaseException) else None,
    )


@asynccontextmanager
async def open_asyncio_loop() -> AsyncIterator[None]:
    """Host an asyncio loop inside the current trio run for the duration of the block."""
    async with trio_asyncio.open_loop() as loop:
        loop.set_exception_handler(_log_only_exception_handler)
        yield


async def run_sync_in_thread(fn: Callable[[], _T]) -> _T:
    """Run blocking ``fn`` in a worker thread, from trio or from asyncio code alike.

    The store is called both by trio code (HTTP reads, CLI, tests) and by chatkit inside the
    asyncio loop, so it cannot pick one library's thread API. In trio the call is not abandoned
    on cancellation: a write that started finishes before the caller sees ``Cancelled``.
    """
    if sniffio.current_async_library() == "asyncio":
        return await asyncio.get_running_loop().run_in_executor(None, fn)
    return await trio.to_thread.run_sync(fn)

"""The asyncio loop hosted inside the trio run, and awaiting asyncio code from trio.

:func:`open_asyncio_loop` opens trio-asyncio's loop for the server's lifetime and makes it
safe to share: errors of orphaned tasks are logged, not raised (one stray task must not take
the server down), tasks are tracked for the stream pump (``_tasks``) and calls into worker
threads are bounded (``robolearn._threads``). How the loop schedules its callbacks is
trio-asyncio's, or robolearn's patch to it once installed (``robolearn._patches``).
Importing it also repoints modules imported before trio_asyncio at its
``get_running_loop``: that completes trio-asyncio's own replacement of asyncio's, which the
bridge cannot work without, so it is no patch that ``ROBOLEARN_UNPATCHED`` could leave out.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio_asyncio

from robolearn._aio._tasks import _tracking_task_factory
from robolearn._threads import THREAD_SLOTS, _thread_slots

_T = TypeVar("_T")

_log = logging.getLogger("robolearn.aio")


def _repoint_early_imports() -> None:
    """Give modules imported before trio_asyncio its ``get_running_loop``.

    trio_asyncio replaces ``asyncio.get_running_loop`` when it is imported; a module that took
    ``from asyncio import get_running_loop`` earlier keeps asyncio's own, which does not see a
    trio-asyncio loop ("no running event loop"). anyio's asyncio backend is one: the openai
    client's HTTP transport (httpx2 on anyio) then fails on every request. It is loaded early
    whenever anyio's pytest plugin is installed, or by any earlier import of anyio under
    asyncio. (psycopg does the same; the store avoids its asyncio API, see the package doc.)
    """
    backend: Any = sys.modules.get("anyio._backends._asyncio")
    if backend is not None and backend.get_running_loop is not asyncio.get_running_loop:
        backend.get_running_loop = asyncio.get_running_loop


_repoint_early_imports()


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
        loop.set_task_factory(_tracking_task_factory)
        slots = _thread_slots.set(asyncio.Semaphore(THREAD_SLOTS))
        try:
            yield
        finally:
            _thread_slots.reset(slots)


async def run_aio(fn: Callable[[], Awaitable[_T]]) -> _T:
    """Await the asyncio coroutine ``fn()`` from trio code (e.g. closing an asyncio client)."""
    result: _T = await trio_asyncio.aio_as_trio(fn)()
    return result

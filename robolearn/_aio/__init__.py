"""The one bridge between trio and asyncio.

The server runs in a single trio event loop. ``openai-agents`` and chatkit's streaming path are
asyncio code, so they run inside a trio-asyncio loop opened by :func:`open_asyncio_loop`. Every
other module sees trio (the store's reusable part anyio, so that it runs on plain asyncio
too); this is the only package that imports :mod:`trio_asyncio`, and with
:mod:`robolearn._threads` the only one that imports :mod:`asyncio`. That includes the code of
the library patches that are asyncio code (``_scheduler``, ``_merge``):
:mod:`robolearn._patches` checks the libraries and chooses what to install.

The database is reached through psycopg's synchronous pool in worker threads
(``robolearn._threads.run_sync_in_thread``), never through psycopg's asyncio API, which
breaks under trio-asyncio when psycopg is imported first. The bridge bounds how many of those
calls its asyncio side runs at once (``THREAD_SLOTS``).

One job per module:

- ``_loop``: the asyncio loop inside the trio run (``open_asyncio_loop``) and awaiting asyncio
  code from trio (``run_aio``).
- ``_pump``: an asyncio async iterator run into trio (``run_aio_stream``, ``open_aio_stream``),
  its items grouped per ``hold`` window (``stream_is_held``, ``stream_released``).
- ``_tasks``: the tasks a stream pump owns and reaps; how many tasks are alive.
- ``_primitives``: asyncio primitives for asyncio-side code elsewhere (``sleep``, ``spawn``...).
- ``_scheduler``: trio-asyncio's loop scheduling its callbacks in batches, as asyncio's does
  (the ``scheduler`` and ``call-soon`` patches).
- ``_merge``: chatkit's merge of agent and tool events, one task per source (``merge``).
"""

from robolearn._aio._loop import open_asyncio_loop, run_aio
from robolearn._aio._merge import merge_in_step
from robolearn._aio._primitives import loop_time, new_queue, sleep, spawn, wait_at_most
from robolearn._aio._pump import (
    AioStream,
    open_aio_stream,
    run_aio_stream,
    stream_is_held,
    stream_released,
)
from robolearn._aio._tasks import pending_asyncio_tasks

__all__ = [
    "AioStream",
    "loop_time",
    "merge_in_step",
    "new_queue",
    "open_aio_stream",
    "open_asyncio_loop",
    "pending_asyncio_tasks",
    "run_aio",
    "run_aio_stream",
    "sleep",
    "spawn",
    "stream_is_held",
    "stream_released",
    "wait_at_most",
]

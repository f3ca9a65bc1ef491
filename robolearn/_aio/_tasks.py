"""The asyncio tasks of the bridged loop: which ones a stream pump owns, and how many live.

A stream pump (``_pump``) must end every task its iterator started, directly or not: chatkit
leaves helper tasks behind when its stream is cancelled. The loop's task factory records each
new task with the pump running in its context, and the pump reaps them when it ends.
"""

from __future__ import annotations

import asyncio
import contextvars
import functools
from typing import Any

# The unfinished tasks started (directly or not) by the stream pump running in this context;
# see _reap. A context variable, so concurrent pumps never see each other's tasks.
_pump_tasks: contextvars.ContextVar[set[asyncio.Task[Any]] | None] = contextvars.ContextVar(
    "robolearn_pump_tasks", default=None
)


def _tracking_task_factory(
    loop: asyncio.AbstractEventLoop, coro: Any, **kwargs: Any
) -> asyncio.Task[Any]:
    task: asyncio.Task[Any] = asyncio.Task(coro, loop=loop, **kwargs)
    owned = _pump_tasks.get()
    if owned is not None:
        owned.add(task)
        task.add_done_callback(functools.partial(_settled, owned))
    return task


def _settled(owned: set[asyncio.Task[Any]], task: asyncio.Task[Any]) -> None:
    # Dropped at once: a turn starts a task per streamed event, and holding every finished
    # one (with its result and context) until the turn ended made each stream in flight
    # keep thousands of objects alive, all of them scanned by every full collection.
    owned.discard(task)
    if not task.cancelled():
        # Retrieved, so asyncio does not log "exception was never retrieved" for a helper
        # whose error belongs to a stream that already failed or ended.
        task.exception()


async def _reap(tasks: set[asyncio.Task[Any]]) -> None:
    """Cancel and await the tasks a stream left behind.

    chatkit's event merging starts helper tasks and does not cancel them when its stream is
    cancelled; one waits forever on an internal queue. Every task started under the pump
    ends with the pump, so a turn leaves nothing running.
    """
    current = asyncio.current_task()
    leftovers = [task for task in tasks if task is not current]  # finished ones left already
    for task in leftovers:
        task.cancel()
    # return_exceptions: their errors belong to the stream that already ended; retrieving
    # them also keeps asyncio from logging "exception was never retrieved".
    await asyncio.gather(*leftovers, return_exceptions=True)


def pending_asyncio_tasks() -> int:
    """How many asyncio tasks are alive in the bridged loop (0 when idle: none leaked)."""
    loop = asyncio.get_event_loop()
    return sum(1 for task in asyncio.all_tasks(loop) if not task.done())

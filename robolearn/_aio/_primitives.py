"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

The few asyncio primitives robolearn's asyncio-side code needs (start a task, wait with a
timeout, a queue, sleep, the loop's clock), so that code outside the bridge never imports asyncio.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

_T = TypeVar("_T")


def spawn(coroutine: Awaitable[_T]) -> Awaitable[_T]:
    """Start ``coroutine`` as an asyncio task, from asyncio-side code, to await it later.

    Started under a stream pump, it ends with the pump at the latest (see `_tasks._reap`).
    """
    return asyncio.ensure_future(coroutine)


async def wait_at_most(seconds: float, awaitable: Awaitable[_T]) -> _T | None:
    """``awaitable``'s result, or None (and it cancelled) if it takes over ``seconds``."""
    try:
        return await asyncio.wait_for(awaitable, seconds)
    except TimeoutError:
        return None


def new_queue() -> asyncio.Queue[Any]:
    """An empty unbounded ``asyncio.Queue``, for asyncio-side code that needs a fresh one."""
    return asyncio.Queue()


async def sleep(seconds: float) -> None:
    """``asyncio.sleep`` for asyncio-side code (models running inside the Agents SDK)."""
    await asyncio.sleep(seconds)


def loop_time() -> float:
    """The running asyncio loop's clock (trio's, under the bridge), for asyncio-side code."""
    return asyncio.get_running_loop().time()

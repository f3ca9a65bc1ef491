"""A task that serves a block from the background: started before it, cancelled after."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import trio

__all__ = ["running"]


@asynccontextmanager
async def running(run: Callable[..., Awaitable[Any]]) -> AsyncIterator[None]:
    """Run ``run`` (it reports ``task_status.started()``) for the block; cancelled at its end."""
    async with trio.open_nursery() as nursery:
        await nursery.start(run)
        try:
            yield
        finally:
            nursery.cancel_scope.cancel()

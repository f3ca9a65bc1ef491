"""chatkit: its merge of the agent's events with its tools' events, and the private parts of
chatkit that robolearn's server relies on.

``merge``
    chatkit's ``stream_agent_response`` merges the agent's events with those its tools emit
    through ``chatkit.agents._merge_generators``, which starts a task for every
    ``__anext__``: a task, an ``asyncio.wait`` and their callbacks per streamed event.
    :func:`merge_in_step` keeps one task per source for the whole turn, under the same rules
    (its tests pass against chatkit's merge too), and leaves no task behind (chatkit's leaks
    one per cancelled turn). Gain: no figure of its own was recorded (commit 19d4e77;
    docs/benchmarks.md lists it among a round's CPU cuts without one): A/B it.

``merge_in_step`` runs on the asyncio side of the bridge (inside trio-asyncio's loop). The
swap is made at install time, never on import: the benchmark's baseline imports
``robolearn.chat`` and must stay stock chatkit.

The server's own subclasses also use private chatkit methods (``RoboLearnChatKitServer``:
``_process_streaming``, ``_process_non_streaming``, ``_serialize``, ``_to_thread_response``,
``_update_pending_items``; ``ModelInputConverter._thread_item_to_input_item``; the turn's
``AgentContext`` with its own ``_events`` queue). They stay with the subclasses; installing
the patch checks that chatkit still has them. Verified on openai-chatkit 1.6.5. Upstream
report: docs/upstream.md.
"""

from __future__ import annotations

import asyncio
import functools
from collections import deque
from collections.abc import AsyncIterator, Callable
from typing import Any, TypeVar

import chatkit.agents
import chatkit.server
import outcome

from ._core import Library, Patches, swap

__all__ = ["LIBRARY", "install", "merge_in_step"]

MERGE = "merge"

LIBRARY = Library("openai-chatkit", (MERGE,), lowest=(1, 6, 5), below=(1, 7))

# (owner, attribute): what the merge replaces, and what the server's subclasses call or
# override.
_INTERNALS: tuple[tuple[object, str], ...] = (
    (chatkit.agents, "_merge_generators"),
    (chatkit.server.ChatKitServer, "_process_streaming"),
    (chatkit.server.ChatKitServer, "_process_non_streaming"),
    (chatkit.server.ChatKitServer, "_serialize"),
    (chatkit.server.ChatKitServer, "_to_thread_response"),
    (chatkit.server.ChatKitServer, "_update_pending_items"),
    (chatkit.agents.ThreadItemConverter, "_thread_item_to_input_item"),
)


def install(patches: Patches) -> None:
    """Make chatkit merge its streams with :func:`merge_in_step` (or its own again).

    Process-wide: chatkit looks its merge up as a module global on every stream.
    """
    if MERGE not in patches:
        swap(chatkit.agents, "_merge_generators", None)
        return
    version = LIBRARY.check_version()
    missing = [
        f"{_qualified(owner)}.{name}" for owner, name in _INTERNALS if not hasattr(owner, name)
    ]
    if "_events" not in chatkit.agents.AgentContext.__private_attributes__:
        missing.append("chatkit.agents.AgentContext._events")
    LIBRARY.require(version, missing)
    swap(chatkit.agents, "_merge_generators", _in_step())


def _in_step() -> Callable[..., AsyncIterator[Any]]:
    # A new function object per install: it carries chatkit's own merge (see ``swap``).
    @functools.wraps(merge_in_step)
    def merge(a: AsyncIterator[Any], b: AsyncIterator[Any]) -> AsyncIterator[Any]:
        return merge_in_step(a, b)

    return merge


def _qualified(owner: object) -> str:
    name = getattr(owner, "__qualname__", None) or getattr(owner, "__name__", None)
    return name if isinstance(name, str) else repr(owner)


_T1 = TypeVar("_T1")
_T2 = TypeVar("_T2")


async def merge_in_step(a: AsyncIterator[_T1], b: AsyncIterator[_T2]) -> AsyncIterator[_T1 | _T2]:
    """Items of ``a`` and ``b`` as they come, until either ends: chatkit's ``_merge_generators``
    with one task per source instead of one per item.

    chatkit merges the agent's events with those its tools emit by starting a task for every
    ``__anext__``: a task, a ``wait`` and their callbacks per streamed event. Here each source
    has one task for the whole merge, and the same rules hold: a source is asked for its next
    item only once its last one has been taken (so neither runs ahead of the reader), items
    come in the order they arrived, a source's error is raised when its turn comes, and when
    one source ends, an item the other already had is still passed on. Leaving early (error,
    cancellation) cancels both tasks.
    """
    loop = asyncio.get_running_loop()
    arrived: deque[tuple[int, outcome.Outcome[Any] | None]] = deque()  # None: it ended
    waiting: asyncio.Future[None] | None = None  # the reader's, while it waits for an item
    asked: list[asyncio.Future[None] | None] = [None, None]

    async def pull(index: int, source: AsyncIterator[Any]) -> None:
        while True:
            result: outcome.Outcome[Any] | None
            try:
                result = outcome.Value(await source.__anext__())
            except StopAsyncIteration:
                result = None
            except BaseException as exc:  # CancelledError too: the reader must hear of it
                result = outcome.Error(exc)
            arrived.append((index, result))
            if waiting is not None and not waiting.done():
                waiting.set_result(None)
            if not isinstance(result, outcome.Value):
                return
            asked[index] = ask = loop.create_future()
            await ask

    pullers = [asyncio.ensure_future(pull(0, a)), asyncio.ensure_future(pull(1, b))]
    try:
        while True:
            while not arrived:
                waiting = loop.create_future()
                await waiting
            index, result = arrived.popleft()
            if result is None:
                for _, other in arrived:
                    if other is not None:
                        yield other.unwrap()
                return
            yield result.unwrap()
            next_please = asked[index]
            # Done already only if its task was cancelled from outside (the pump's reaping).
            if next_please is not None and not next_please.done():
                next_please.set_result(None)
    finally:
        for puller in pullers:
            puller.cancel()

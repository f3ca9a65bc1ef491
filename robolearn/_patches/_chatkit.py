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

``merge_in_step`` is asyncio code, so it lives in the bridge (``robolearn/_aio/_merge.py``);
this module decides whether chatkit uses it. The swap is made at install time, never on
import: the benchmark's baseline imports ``robolearn.chat`` and must stay stock chatkit.

The server's own subclasses also use private chatkit methods (``RoboLearnChatKitServer``:
``_process_streaming``, ``_process_non_streaming``, ``_serialize``, ``_to_thread_response``,
``_update_pending_items``; ``ModelInputConverter._thread_item_to_input_item``; the turn's
``AgentContext`` with its own ``_events`` queue). They stay with the subclasses; installing
the patch checks that chatkit still has them. Verified on openai-chatkit 1.6.5. Upstream
report: docs/upstream.md.
"""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator, Callable
from typing import Any

import chatkit.agents
import chatkit.server

from robolearn._aio import merge_in_step

from ._core import Library, Patches, swap

__all__ = ["LIBRARY", "install"]

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

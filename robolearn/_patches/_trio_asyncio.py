"""trio-asyncio: the loop's callback scheduling, as asyncio's own loop does it.

chatkit and the Agents SDK run on trio-asyncio's loop inside the server's trio run
(``robolearn._aio``), and every step of every asyncio task, every finished future, is a
callback of that loop. Two patches, both made to each loop as ``trio_asyncio.open_loop``
opens it (the one attribute they replace):

``scheduler``
    Stock trio-asyncio sends every callback through a trio memory channel and runs ONE per
    trip through trio's scheduler, each in a fresh ``move_on_after`` scope: with a hundred
    streams, a channel send, a reschedule and a cancel scope for every step of every task.
    :class:`CallbackQueue` runs a batch per trip, as one iteration of asyncio's loop does.
    Gain: no A/B figure of its own was recorded (commit 52b8303); py-spy put trio's
    scheduler and trio-asyncio's callback dispatch at about a third of the CPU before
    (README at 592a691) and the hop per callback at 3-4% of samples after (10328a1, 8de4579).
``call-soon``
    trio-asyncio checks every callback for being a coroutine (an ``inspect`` call) on every
    ``call_soon``/``call_at``/``call_later``; asyncio does that only in debug mode. The loop
    gets asyncio's own, straight onto its queue. Gain: CPU per message at 100 streams
    20.0 -> 14.9 ms in interleaved runs (commit 5679978).

Both replace private internals (``_q_send``, ``_q_recv``, ``_main_loop_one``, ``_timers``,
``_nursery``, ``_check_closed``, ``trio_asyncio._handles.AsyncHandle``), verified on
trio-asyncio 0.16. Upstream report: docs/upstream.md. The code the patches install is asyncio
code, so it lives in the bridge (``robolearn/_aio/_scheduler.py``); this module checks and
chooses.
"""

from __future__ import annotations

from typing import Any

from robolearn._aio import _scheduler

from ._core import Library, Patches, set_in_init, stock, swap

__all__ = ["LIBRARY", "install"]

SCHEDULER = "scheduler"
CALL_SOON = "call-soon"

LIBRARY = Library("trio-asyncio", (SCHEDULER, CALL_SOON), lowest=(0, 16), below=(0, 17))

# What the patches replace or use of trio-asyncio's loop: attributes its __init__ sets, and
# methods or class attributes.
_SET_IN_INIT = ("_q_send", "_q_recv", "_timers")
_ON_THE_CLASS = ("_nursery", "_main_loop_one", "_check_closed")


def install(patches: Patches) -> None:
    """Have ``trio_asyncio.open_loop`` patch each loop it opens (or stop doing so)."""
    scheduler, call_soon = SCHEDULER in patches, CALL_SOON in patches
    module = _scheduler.trio_asyncio
    if not (scheduler or call_soon):
        swap(module, "open_loop", None)
        return
    async_handle = _check_internals(LIBRARY.check_version())
    open_loop = _scheduler.patching_open_loop(
        stock(module, "open_loop"),
        scheduler=scheduler,
        call_soon=call_soon,
        async_handle=async_handle,
    )
    swap(module, "open_loop", open_loop)


def _check_internals(version: str) -> type[Any]:
    """trio-asyncio's ``AsyncHandle``, once every internal the patches need is found."""
    loop_class = _scheduler.loop_class()
    assigned = set_in_init(loop_class)
    missing = [f"TrioEventLoop().{name}" for name in _SET_IN_INIT if name not in assigned]
    missing += [f"TrioEventLoop.{name}" for name in _ON_THE_CLASS if not hasattr(loop_class, name)]
    async_handle = _scheduler.async_handle_class()
    if async_handle is None:
        missing.append("trio_asyncio._handles.AsyncHandle")
    LIBRARY.require(version, missing)
    assert async_handle is not None  # `require` raised otherwise
    return async_handle

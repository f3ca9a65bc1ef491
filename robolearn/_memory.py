"""Keeping a serving process's memory bounded when users send big attachments.

Two leaks that were not leaks: a turn with attachments builds tens of megabytes of model input
(the bytes, their base64 data URLs) and drops it when the turn ends, yet the server's RSS kept
every byte (241 → 2730 MiB for one user's 10 messages, and it never came back).

- The Agents SDK's run state is full of reference cycles, and the model input hangs off it,
  so it is freed only by the cyclic collector; with the serving thresholds
  (``robolearn.serve.GC_THRESHOLDS``) that runs after tens of thousands of allocations, not
  after tens of megabytes. `GarbageBudget` counts the attachment bytes turns have read and
  asks for a full collection once they add up to a budget.
- glibc serves a large allocation from mmap only until one is freed; then it raises its mmap
  threshold to that size and takes the next ones from its heaps, which it rarely gives back
  to the system. `tune_malloc` fixes the threshold, so every big buffer is its own mapping,
  returned to the system when freed.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
import logging
import time

import attrs
import trio

__all__ = ["GarbageBudget", "collect_when_idle", "trim_malloc", "tune_malloc"]

_log = logging.getLogger("robolearn.memory")

_M_MMAP_THRESHOLD = -3  # glibc's mallopt parameter number
# Above this, allocations get their own mapping (glibc's starting value is 128 KiB, and it
# grows up to 32 MiB as big buffers are freed).
_MMAP_THRESHOLD = 1 << 20


def _libc() -> ctypes.CDLL | None:
    name = ctypes.util.find_library("c")
    if name is None:
        return None
    try:
        libc = ctypes.CDLL(name)
    except OSError:
        return None
    return libc if hasattr(libc, "mallopt") and hasattr(libc, "malloc_trim") else None


def tune_malloc() -> bool:
    """Fix glibc's mmap threshold; False where there is no glibc (nothing to do there)."""
    libc = _libc()
    return libc is not None and bool(libc.mallopt(_M_MMAP_THRESHOLD, _MMAP_THRESHOLD))


def trim_malloc() -> None:
    """Give the free pages inside glibc's heaps back to the system (its arenas keep them).

    A 10 MB upload arrives in thousands of small chunks, and the worker threads that read
    attachments from the database each have their own arena: freed, those pages stay
    mapped until trimmed.
    """
    libc = _libc()
    if libc is not None:
        libc.malloc_trim(0)


@attrs.define
class GarbageBudget:
    """Asks for a full garbage collection once turns have read ``limit`` attachment bytes.

    ``spent`` is called where attachment bytes are read for a turn; ``collect_if_due`` where
    a turn has ended (its garbage is garbage by then). A collection walks only what is not
    frozen (see ``robolearn.serve.tune_gc_for_serving``), and it comes once per ``limit``
    bytes, so its cost is bounded by what users send.
    """

    limit: int = 64 << 20
    _spent: int = 0
    # Read since the last idle collection: turns that were still running when a collection
    # came leave their garbage for the next one, and after the last turn that is this one.
    _unswept: int = 0
    collections: int = 0

    def spent(self, size: int) -> None:
        self._spent += size
        self._unswept += size

    @property
    def due(self) -> bool:
        return self._spent >= self.limit

    def collect_if_due(self, *, idle: bool = False) -> int | None:
        """Collect now if the budget is spent (with ``idle``: if anything was spent at all,
        for the last turns of a load, after which no turn comes to spend the rest); returns
        the objects freed, or None."""
        if not (self.due or (idle and self._unswept)):
            return None
        self._spent = 0
        if idle:
            self._unswept = 0
        started = time.perf_counter()
        freed = gc.collect()
        trim_malloc()
        self.collections += 1
        _log.info(
            "collected %d objects after big attachments in %.0f ms",
            freed,
            (time.perf_counter() - started) * 1000,
        )
        return freed


async def collect_when_idle(budget: GarbageBudget, interval: float = 10.0) -> None:
    """Every ``interval`` seconds, collect what turns with attachments left behind since the
    last collection, however little (trio code; runs until cancelled)."""
    while True:
        await trio.sleep(interval)
        budget.collect_if_due(idle=True)

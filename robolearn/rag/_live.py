"""The search index a running server answers from, kept in step with the stored book.

The index is built in memory from the database's chunks (the whole book takes about
100 ms) and rebuilt when the corpus version changes: a server polls that one-row version
every few seconds, so an ingest from another process shows up without a restart.
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Final

import attrs
import trio

from robolearn._threads import run_sync_in_thread
from robolearn.rag._lessons import Lesson, read_lessons
from robolearn.rag._questions import EvalQuestion
from robolearn.rag._repository import Database, RagRepository
from robolearn.rag._search import SearchConfig, SearchIndex
from robolearn.store import StoreUnavailable

__all__ = ["DEMO_DOCS", "LiveIndex", "LiveIndexStatistics", "demo_lessons", "open_live_index"]

_log = logging.getLogger("robolearn.rag")

DEMO_DOCS: Final = Path(__file__).resolve().parent / "demo"
"""A tiny Docusaurus docs tree shipped with the package, so a fresh server can answer."""


def demo_lessons(site_url: str) -> list[Lesson]:
    """The demo corpus' lessons, with URLs under ``site_url``."""
    return read_lessons(DEMO_DOCS, site_url=site_url)


@attrs.frozen
class LiveIndexStatistics:
    """What :meth:`LiveIndex.statistics` reports (for health checks and logs)."""

    loaded: bool
    version: int | None
    lessons: int
    chunks: int
    loaded_at: float | None  # time.time() of the last (re)build


@attrs.define(eq=False)
class LiveIndex:
    """The current :class:`SearchIndex`, swapped whole when the stored book changes.

    Owned by the server's services. :attr:`current` is a plain attribute read, so the
    search tool may call it from asyncio code as well as from trio; it is None until a
    first load succeeds (database down at startup, or no book stored).
    """

    repository: RagRepository
    config: SearchConfig = attrs.field(factory=SearchConfig)
    seed: Sequence[Lesson] = ()
    # The questions students asked that the search learns from (`load_asked`).
    asked: Sequence[EvalQuestion] = ()
    _current: SearchIndex | None = attrs.field(default=None, init=False)
    _version: int | None = attrs.field(default=None, init=False)  # of the book last read
    _lessons: int = attrs.field(default=0, init=False)
    _loaded_at: float | None = attrs.field(default=None, init=False)
    _seed_pending: bool = attrs.field(default=True, init=False)
    _lock: trio.Lock = attrs.field(factory=trio.Lock, init=False)
    _reloaded: trio.Event = attrs.field(factory=trio.Event, init=False)

    @property
    def current(self) -> SearchIndex | None:
        """The index to search now, or None if no book is loaded."""
        return self._current

    @property
    def loaded(self) -> bool:
        return self._current is not None

    def statistics(self) -> LiveIndexStatistics:
        current = self._current
        return LiveIndexStatistics(
            loaded=current is not None,
            version=self._version,
            lessons=self._lessons if current is not None else 0,
            chunks=len(current.chunks) if current is not None else 0,
            loaded_at=self._loaded_at,
        )

    async def refresh(self) -> bool:
        """Rebuild the index if the stored book changed since it was last read.

        The first successful call seeds an empty database with ``seed`` (the demo corpus);
        later ones never do, so a book emptied on purpose stays empty. Returns whether the
        index changed. Raises :class:`StoreUnavailable` when the database is unreachable;
        the index in use stays.
        """
        async with self._lock:
            if self._seed_pending and self.seed:
                report = await self.repository.ingest(self.seed, only_if_empty=True)
                if report is not None:
                    _log.info(
                        "no textbook stored: ingested the demo corpus (%d lessons)", report.lessons
                    )
            self._seed_pending = False
            if self._version is not None and await self.repository.version() == self._version:
                return False
            corpus = await self.repository.load()
            started = time.perf_counter()
            # ~100 ms of CPU for the whole book: off the event loop.
            index = await run_sync_in_thread(
                lambda: SearchIndex.build(corpus.chunks, self.config, asked=self.asked)
            )
            self._current = index if corpus.chunks else None
            self._version = corpus.version
            self._lessons = corpus.lessons
            self._loaded_at = time.time()
            self._reloaded.set()
            self._reloaded = trio.Event()
            if not corpus.chunks:
                _log.warning("no textbook stored: run `robolearn ingest PATH`")
            else:
                _log.info(
                    "textbook index v%d: %d lessons, %d chunks, %d asked questions "
                    "(built in %.0f ms)",
                    corpus.version,
                    corpus.lessons,
                    len(corpus.chunks),
                    index.asked_questions,
                    (time.perf_counter() - started) * 1000,
                )
            return True

    async def wait_for_version(self, version: int) -> None:
        """Wait until a book at ``version`` or newer is loaded (1: any book)."""
        while self._current is None or self._version is None or self._version < version:
            await self._reloaded.wait()

    @asynccontextmanager
    async def running(self, refresh_interval: float) -> AsyncIterator[None]:
        """Load the stored book (seeding an empty one), then keep it fresh for the block.

        A database that is down at startup does not fail the block: the index starts
        unloaded and the refresher keeps trying every ``refresh_interval`` seconds.
        """
        try:
            await self.refresh()
        except StoreUnavailable as exc:
            _log.warning("textbook index not loaded at startup: %s", exc)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(self.keep_fresh, refresh_interval)
            try:
                yield
            finally:
                nursery.cancel_scope.cancel()

    async def keep_fresh(self, interval: float) -> None:
        """Check for a changed book every ``interval`` seconds, forever.

        A failed check is logged and retried at the next tick: the server keeps answering
        from the index it has.
        """
        while True:
            await trio.sleep(interval)
            try:
                await self.refresh()
            except StoreUnavailable as exc:
                _log.warning("textbook index not refreshed: %s", exc)


@asynccontextmanager
async def open_live_index(
    db: Database,
    *,
    refresh_interval: float,
    seed: Sequence[Lesson] = (),
    config: SearchConfig | None = None,
    asked: Sequence[EvalQuestion] = (),
) -> AsyncIterator[LiveIndex]:
    """A :class:`LiveIndex` over ``db``, loaded and kept fresh for the block; its search
    learns from the ``asked`` questions."""
    live = LiveIndex(RagRepository(db), config or SearchConfig(), tuple(seed), asked)
    async with live.running(refresh_interval):
        yield live

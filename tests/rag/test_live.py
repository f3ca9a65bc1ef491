"""The server's live index: demo seeding, reload on a new corpus version, database outages."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import attrs
import psycopg
import pytest
import trio

from robolearn.rag import (
    EvalQuestion,
    LiveIndex,
    RagRepository,
    demo_lessons,
    load_asked,
    open_live_index,
    read_lessons,
)
from robolearn.store import PostgresStore, StoreUnavailable

from .test_ingest import LESSONS, SITE, write_docs

_T = TypeVar("_T")


@attrs.define
class FlakyDatabase:
    """The store's database, or an outage while ``down`` is set."""

    store: PostgresStore
    down: bool = False
    refused: int = 0  # calls that met the outage
    _refusal: trio.Event = attrs.field(factory=trio.Event)

    async def run(self, fn: Callable[[psycopg.Connection[Any]], _T]) -> _T:
        if self.down:
            self.refused += 1
            self._refusal.set()
            self._refusal = trio.Event()
            raise StoreUnavailable("database unavailable: test outage")
        return await self.store.run(fn)

    async def wait_refused(self, count: int) -> None:
        """Until ``count`` calls in all have met the outage."""
        while self.refused < count:
            await self._refusal.wait()


def demo_paths() -> set[str]:
    return {lesson.path for lesson in demo_lessons(SITE)}


async def test_an_empty_database_is_seeded_with_the_demo_corpus(store: PostgresStore) -> None:
    bank = load_asked()  # the RoboLearn book's, as a server has it
    async with open_live_index(
        store, refresh_interval=60, seed=demo_lessons(SITE), asked=bank
    ) as live:
        assert live.loaded
        stats = live.statistics()
        assert stats.lessons == len(demo_paths()) >= 3
        assert stats.version == 1
        index = live.current
        assert index is not None
        assert {chunk.lesson_path for chunk in index.chunks} == demo_paths()
        # The shipped question bank is the RoboLearn book's, not the demo's.
        assert index.asked_questions == 0
        top = index.search("how do I write a publisher node in python?")[0]
        assert top.url.startswith(f"{SITE}/docs/")
        assert "Publisher" in top.title


async def test_a_stored_book_is_never_replaced_by_the_demo(
    store: PostgresStore, tmp_path: Path
) -> None:
    await RagRepository(store).ingest(read_lessons(write_docs(tmp_path, LESSONS), site_url=SITE))
    async with open_live_index(store, refresh_interval=60, seed=demo_lessons(SITE)) as live:
        assert live.statistics().lessons == len(LESSONS)


async def test_refresh_rebuilds_only_when_the_book_changed(
    store: PostgresStore, tmp_path: Path
) -> None:
    async with open_live_index(store, refresh_interval=60, seed=demo_lessons(SITE)) as live:
        first = live.current
        assert await live.refresh() is False
        assert live.current is first
        await RagRepository(store).ingest(
            read_lessons(write_docs(tmp_path, LESSONS), site_url=SITE)
        )
        assert await live.refresh() is True
        assert live.current is not first
        assert live.statistics().version == 2
        assert live.statistics().lessons == len(LESSONS)


async def test_the_refresher_picks_up_an_ingest_by_itself(
    store: PostgresStore, tmp_path: Path
) -> None:
    async with open_live_index(store, refresh_interval=0.02, seed=demo_lessons(SITE)) as live:
        await RagRepository(store).ingest(
            read_lessons(write_docs(tmp_path, LESSONS), site_url=SITE)
        )
        with trio.fail_after(2):
            await live.wait_for_version(2)
        index = live.current
        assert index is not None
        assert index.search("gazebo worlds")[0].title == "Worlds"


async def test_a_database_outage_keeps_the_server_up_and_heals(store: PostgresStore) -> None:
    database = FlakyDatabase(store, down=True)
    live = LiveIndex(RagRepository(database), seed=demo_lessons(SITE))
    async with live.running(refresh_interval=0.02):
        assert not live.loaded  # startup did not fail, the index is just not there yet
        assert live.statistics().chunks == 0
        database.down = False
        with trio.fail_after(2):
            await live.wait_for_version(1)
        database.down = True
        refused = database.refused
        with trio.fail_after(2):
            await database.wait_refused(refused + 2)  # refreshes that failed
        assert live.loaded  # they kept the index already loaded


async def test_an_emptied_book_unloads_and_is_not_reseeded(store: PostgresStore) -> None:
    async with open_live_index(store, refresh_interval=60, seed=demo_lessons(SITE)) as live:
        assert live.loaded
        report = await RagRepository(store).ingest([])
        assert report is not None and report.removed == len(demo_paths())
        assert await live.refresh() is True
        assert not live.loaded
        assert live.statistics().version == 2
        assert await live.refresh() is False  # no demo again: the book was emptied on purpose
        assert (await RagRepository(store).load()).chunks == ()


async def test_the_live_index_learns_from_the_asked_questions(
    store: PostgresStore, tmp_path: Path
) -> None:
    await RagRepository(store).ingest(read_lessons(write_docs(tmp_path, LESSONS), site_url=SITE))
    [nodes, *_] = LESSONS
    bank = [EvalQuestion("why does my program never show up in the graph", (nodes,))]
    async with open_live_index(store, refresh_interval=60, asked=bank) as live:
        index = live.current
        assert index is not None
        assert index.asked_questions == 1
        outcome = index.search_with_coverage(bank[0].text)
        assert outcome.resemblance.answered == pytest.approx(1.0)
        assert outcome.results[0].path == nodes

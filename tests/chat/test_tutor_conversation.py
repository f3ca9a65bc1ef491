"""The offline tutor through the real ``POST /chatkit``: search, cited answer, page context."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import attrs
import pytest

from robolearn.chat import LocalTutorModel
from robolearn.config import Settings
from robolearn.rag import RagRepository, read_lessons
from robolearn.services import Services, open_services
from robolearn.store import open_store
from tests.http.conftest import ChatKit, user_input

REPO = Path(__file__).resolve().parents[2]
BOOK = REPO.parent / "shared" / "corpus" / "robolearn-book"
LINK = re.compile(r"\[([^\]]+)\]\((https?://[^)\s]+)\)")
PUBLISHER = "module-1-ros2/chapter-4-first-code/02-writing-publisher.md"


@pytest.fixture
def model() -> LocalTutorModel:
    return LocalTutorModel(delay=0)


def open_unmerged(
    settings: Settings, model: LocalTutorModel
) -> AbstractAsyncContextManager[Services]:
    # The model answers instantly (delay=0): unmerged, so its deltas are seen one by one.
    return open_services(attrs.evolve(settings, stream_flush_ms=0), model=model)


@pytest.fixture
async def services(settings: Settings, model: LocalTutorModel) -> AsyncIterator[Services]:
    async with open_unmerged(settings, model) as opened:
        yield opened


def answer_text(events: list[dict[str, Any]]) -> str:
    """The assistant message as streamed: the concatenated text deltas."""
    deltas = [
        event["update"]["delta"]
        for event in events
        if event["type"] == "thread.item.updated"
        and event["update"]["type"] == "assistant_message.content_part.text_delta"
    ]
    done = [
        event["item"]
        for event in events
        if event["type"] == "thread.item.done" and event["item"]["type"] == "assistant_message"
    ]
    assert len(done) == 1, [event["type"] for event in events]
    text = "".join(deltas)
    assert done[0]["content"][0]["text"] == text
    assert len(deltas) > 5  # streamed in pieces, not in one block
    return text


class TestWithTheBook:
    @pytest.fixture
    async def book(self, settings: Settings) -> dict[str, str]:
        """The real textbook ingested before the server starts: lesson URL → doc path."""
        if not BOOK.is_dir():
            pytest.skip(f"textbook not found at {BOOK}")
        lessons = read_lessons(BOOK, site_url=settings.site_url)
        async with open_store(settings.database_url, pool_min=1) as store:
            await RagRepository(store).ingest(lessons)
        return {lesson.url: lesson.path for lesson in lessons}

    @pytest.fixture
    async def services(
        self, settings: Settings, model: LocalTutorModel, book: dict[str, str]
    ) -> AsyncIterator[Services]:
        async with open_unmerged(settings, model) as opened:
            yield opened

    async def test_answers_cite_real_lessons_and_follow_ups_keep_the_page(
        self, alice: ChatKit, book: dict[str, str], services: Services
    ) -> None:
        assert services.textbook.statistics().lessons == len(book)
        page = {"path": PUBLISHER, "title": "Lesson 4.2: Writing a Publisher"}
        events = await alice.stream(
            "threads.create",
            metadata={"pageContext": page},
            input=user_input("How does the timer callback publish messages?"),
        )
        thread_id = events[0]["thread"]["id"]
        first = answer_text(events)
        cited = [url for _, url in LINK.findall(first)]
        assert cited, first
        assert all(url in book for url in cited)  # only real lesson URLs of the book
        assert book[cited[0]] == PUBLISHER
        assert first.startswith("The lesson you're reading, *Lesson 4.2: Writing a Publisher*")

        # No metadata on the follow-up, as the RoboLearn frontend does: the page is remembered.
        events = await alice.stream(
            "threads.add_user_message",
            thread_id=thread_id,
            input=user_input("can you explain the main code example on this page?"),
        )
        follow_up = answer_text(events)
        assert follow_up.startswith(
            "The lesson you're reading, *Lesson 4.2: Writing a Publisher*, covers this"
        )
        assert book[LINK.findall(follow_up)[0][1]] == PUBLISHER

        events = await alice.stream(
            "threads.add_user_message",
            thread_id=thread_id,
            input=user_input("what's a good recipe for banana bread?"),
        )
        out_of_scope = answer_text(events)
        assert out_of_scope.startswith("The book does not cover this")
        assert not LINK.search(out_of_scope)

        items = (await alice.call("items.list", thread_id=thread_id, order="asc")).json()["data"]
        answers = [item for item in items if item["type"] == "assistant_message"]
        assert [a["content"][0]["text"] for a in answers] == [first, follow_up, out_of_scope]


async def test_a_fresh_server_answers_from_the_demo_corpus(
    alice: ChatKit, services: Services, settings: Settings
) -> None:
    assert services.textbook.loaded  # an empty database was seeded with the demo lessons
    events = await alice.stream("threads.create", input=user_input("What is ROS 2?"))
    answer = answer_text(events)
    urls = [url for _, url in LINK.findall(answer)]
    assert (
        urls[0] == f"{settings.site_url}/docs/module-1-ros2-basics/chapter-1-meet-ros2/what-is-ros2"
    )

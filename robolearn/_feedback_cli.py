"""``robolearn feedback``: the answers users voted down, with their questions and citations."""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any, TextIO

import attrs
from chatkit.types import AssistantMessageItem, URLSource, UserMessageItem

from robolearn.config import Settings
from robolearn.store import DownVotedAnswer, StoreUnavailable, open_store

__all__ = [
    "CitedLesson",
    "FeedbackEntry",
    "cited_lessons",
    "feedback_entry",
    "format_json",
    "format_text",
    "parse_since",
    "report",
]

# A citation as the tutor writes it: [Lesson title](https://...). Not an image: ![alt](...).
_LINK = re.compile(r"(?<!!)\[([^\[\]\n]+)\]\((https?://[^\s()]+)\)")
_SHORT = 200  # characters of a question or answer in the text report


@attrs.frozen
class CitedLesson:
    title: str
    url: str


@attrs.frozen(kw_only=True)
class FeedbackEntry:
    """One down-voted answer as the report shows it."""

    thread_id: str
    item_id: str
    user_id: str
    voted_at: datetime
    # The user message before the answer in its thread; None if there is none.
    question: str | None
    answer: str
    lessons: tuple[CitedLesson, ...]

    def to_json(self) -> dict[str, Any]:
        return {
            "thread_id": self.thread_id,
            "item_id": self.item_id,
            "user_id": self.user_id,
            "voted_at": self.voted_at.astimezone(UTC).isoformat(),
            "question": self.question,
            "answer": self.answer,
            "lessons": [{"title": lesson.title, "url": lesson.url} for lesson in self.lessons],
        }


def parse_since(text: str) -> datetime:
    """``--since``: an ISO 8601 date or date and time; one without an offset is in UTC."""
    try:
        value = datetime.fromisoformat(text.strip())
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"not an ISO date or datetime: {text!r} (e.g. 2025-01-31 or 2025-01-31T09:00+01:00)"
        ) from None
    return value if value.tzinfo is not None else value.replace(tzinfo=UTC)


def cited_lessons(answer: AssistantMessageItem) -> tuple[CitedLesson, ...]:
    """The links an answer cites, in order, each URL once: markdown links in its text (how
    the tutor cites lessons) and URL sources of its annotations."""
    found: dict[str, CitedLesson] = {}
    for part in answer.content:
        for match in _LINK.finditer(part.text):
            found.setdefault(match[2], CitedLesson(match[1].strip(), match[2]))
    for part in answer.content:
        for annotation in part.annotations:
            source = annotation.source
            if isinstance(source, URLSource):
                found.setdefault(source.url, CitedLesson(source.title, source.url))
    return tuple(found.values())


def feedback_entry(down: DownVotedAnswer) -> FeedbackEntry:
    return FeedbackEntry(
        thread_id=down.thread_id,
        item_id=down.item_id,
        user_id=down.user_id,
        voted_at=down.voted_at,
        question=None if down.question is None else _question_text(down.question),
        answer="\n".join(part.text for part in down.answer.content),
        lessons=cited_lessons(down.answer),
    )


def format_json(entries: Sequence[FeedbackEntry]) -> str:
    return json.dumps([entry.to_json() for entry in entries], indent=2, ensure_ascii=False)


def format_text(entries: Sequence[FeedbackEntry], since: datetime | None = None) -> str:
    scope = f" since {_when(since)}" if since is not None else ""
    if not entries:
        return f"no down-voted answers{scope}"
    count = f"{len(entries)} down-voted answer{'s' if len(entries) != 1 else ''}"
    lines = [f"{count}{scope}, newest first"]
    for entry in entries:
        question = "(none)" if entry.question is None else _shorten(entry.question)
        lines += [
            "",
            f"{_when(entry.voted_at)}  {entry.user_id}  thread {entry.thread_id}"
            f"  item {entry.item_id}",
            f"  question: {question}",
            f"  answer:   {_shorten(_without_links(entry.answer))}",
        ]
        cited = [f"{lesson.title} <{lesson.url}>" for lesson in entry.lessons] or ["(none)"]
        lines.append(f"  lessons:  {cited[0]}")
        lines += [f"            {line}" for line in cited[1:]]
    return "\n".join(lines)


async def report(
    settings: Settings, *, since: datetime | None, as_json: bool, out: TextIO | None = None
) -> None:
    """Print the down-voted answers (voted at or after ``since``), newest first."""
    out = out or sys.stdout
    async with open_store(
        settings.database_url, data_dir=settings.data_dir, db_timeout=settings.db_timeout
    ) as store:
        try:
            found = await store.load_down_voted_answers(since)
        except StoreUnavailable as exc:
            raise SystemExit(f"robolearn feedback: {exc}") from None
    entries = [feedback_entry(down) for down in found]
    print(format_json(entries) if as_json else format_text(entries, since), file=out)


def _question_text(message: UserMessageItem) -> str:
    return " ".join(part.text for part in message.content).strip()


def _without_links(text: str) -> str:
    # Links as their titles: the lessons line gives the URLs.
    return _LINK.sub(lambda match: match[1], text)


def _shorten(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _SHORT else flat[: _SHORT - 1].rstrip() + "…"


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")

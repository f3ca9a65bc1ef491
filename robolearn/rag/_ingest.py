"""Which lessons an ingest must write, keep or remove (pure: no I/O).

An ingest makes the stored book equal to the docs tree it is given. A lesson is left
untouched when its file bytes, its URL (the site URL may have changed) and the chunker
that cut it are all the same as last time; everything else is rewritten whole.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Final

import attrs

from robolearn.rag._chunking import DEFAULT_MAX_TOKENS, DEFAULT_OVERLAP_TOKENS
from robolearn.rag._lessons import Lesson

# Bump the trailing number when chunking changes in a way the sizes do not show, so the
# next ingest re-chunks every lesson instead of keeping stale chunks.
CHUNKING: Final = f"sections-{DEFAULT_MAX_TOKENS}-{DEFAULT_OVERLAP_TOKENS}/1"


@attrs.frozen
class StoredLesson:
    """What the store remembers about an ingested lesson, to detect changes."""

    content_hash: str
    url: str
    chunking: str


@attrs.frozen
class IngestPlan:
    """The lessons to (re)write, the stored paths to remove, and those left as they are."""

    write: tuple[Lesson, ...]
    remove: tuple[str, ...]
    unchanged: tuple[str, ...]

    @property
    def changes_anything(self) -> bool:
        return bool(self.write or self.remove)


@attrs.frozen
class IngestReport:
    """The outcome of one ingest; ``version`` is the corpus version after it.

    ``embedded`` counts the chunks given a vector (only with an embedder configured).
    """

    lessons: int
    written: int
    unchanged: int
    removed: int
    chunks_written: int
    version: int
    seconds: float = 0.0
    embedded: int = 0


def plan_ingest(stored: Mapping[str, StoredLesson], lessons: Sequence[Lesson]) -> IngestPlan:
    """Compare the stored lessons with ``lessons`` (the whole docs tree)."""
    paths = [lesson.path for lesson in lessons]
    if len(set(paths)) != len(paths):
        raise ValueError("two lessons share a path; pass each page of the docs tree once")
    write: list[Lesson] = []
    unchanged: list[str] = []
    for lesson in lessons:
        if stored.get(lesson.path) == StoredLesson(lesson.content_hash, lesson.url, CHUNKING):
            unchanged.append(lesson.path)
        else:
            write.append(lesson)
    present = set(paths)
    remove = sorted(path for path in stored if path not in present)
    return IngestPlan(tuple(write), tuple(remove), tuple(unchanged))

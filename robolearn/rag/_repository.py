"""The textbook in PostgreSQL: lessons, their chunks and a corpus version (``0002_rag.sql``).

Queries are synchronous psycopg run in worker threads by the database handle (the store's
pool), like every other query in the project.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

import attrs
import psycopg

from robolearn.rag._chunking import Chunk, chunk_lesson
from robolearn.rag._ingest import CHUNKING, IngestReport, StoredLesson, plan_ingest
from robolearn.rag._lessons import Lesson

__all__ = ["Database", "IngestProgress", "RagRepository", "StoredCorpus"]

_T = TypeVar("_T")
_Conn = psycopg.Connection[Any]

# Serialises ingests (a server seeding its demo corpus, a CLI ingest) across processes.
_INGEST_LOCK_KEY: Final = 0x7200_7A6

IngestProgress = Callable[[int, int, str], None]
"""Called after each lesson written: ``(done, total, lesson path)``, from a worker thread."""


class Database(Protocol):
    """Runs blocking ``fn(conn)`` on a pooled connection (``PostgresStore.run``)."""

    async def run(self, fn: Callable[[_Conn], _T]) -> _T: ...


@attrs.frozen
class StoredCorpus:
    """Every stored chunk in reading order, and the corpus version they belong to."""

    version: int
    chunks: tuple[Chunk, ...]
    lessons: int


@attrs.frozen
class RagRepository:
    """Reads and writes the textbook tables."""

    db: Database

    async def ingest(
        self,
        lessons: Sequence[Lesson],
        *,
        progress: IngestProgress | None = None,
        only_if_empty: bool = False,
    ) -> IngestReport | None:
        """Make the stored book exactly ``lessons``, in one transaction.

        Unchanged lessons are not touched, changed ones are rewritten with fresh chunks,
        stored lessons missing from ``lessons`` are deleted; the corpus version goes up
        when anything changed. With ``only_if_empty`` nothing happens (None) if a book is
        already stored: the way a fresh server seeds its demo corpus without ever
        overwriting a real one, even when several servers start at once.
        """
        started = time.perf_counter()
        ordered = tuple(lessons)

        def write(conn: _Conn) -> IngestReport | None:
            with conn.transaction():
                conn.execute("SELECT pg_advisory_xact_lock(%s)", (_INGEST_LOCK_KEY,))
                if only_if_empty and _scalar(conn, "SELECT EXISTS (SELECT 1 FROM rag_lessons)"):
                    return None
                stored = {
                    path: StoredLesson(content_hash, url, chunking)
                    for path, content_hash, url, chunking in conn.execute(
                        "SELECT path, content_hash, url, chunking FROM rag_lessons"
                    )
                }
                plan = plan_ingest(stored, ordered)
                if plan.remove:
                    conn.execute(
                        "DELETE FROM rag_lessons WHERE path = ANY(%s)", (list(plan.remove),)
                    )
                chunks_written = 0
                for done, lesson in enumerate(plan.write, 1):
                    chunks_written += _write_lesson(conn, lesson)
                    if progress is not None:
                        progress(done, len(plan.write), lesson.path)
                if plan.changes_anything:
                    version = _scalar(
                        conn,
                        "UPDATE rag_corpus SET version = version + 1, updated_at = now()"
                        " RETURNING version",
                    )
                else:
                    version = _scalar(conn, "SELECT version FROM rag_corpus")
            return IngestReport(
                lessons=len(ordered),
                written=len(plan.write),
                unchanged=len(plan.unchanged),
                removed=len(plan.remove),
                chunks_written=chunks_written,
                version=int(version),
            )

        report = await self.db.run(write)
        return None if report is None else attrs.evolve(report, seconds=_since(started))

    async def version(self) -> int:
        """The corpus version: it changes whenever an ingest changes the stored book."""
        return int(await self.db.run(lambda conn: _scalar(conn, _VERSION)))

    async def load(self) -> StoredCorpus:
        """All chunks with their lesson metadata, in the order the files were read."""

        def read(conn: _Conn) -> StoredCorpus:
            # The version is read first: if an ingest commits in between, these chunks are
            # newer than the version says and the next version check loads them again,
            # which costs one spare reload and never leaves stale chunks in place.
            version = int(_scalar(conn, _VERSION))
            rows = conn.execute(
                "SELECT c.lesson_path, c.ordinal, c.heading, c.text, l.title, l.url,"
                " l.module, l.chapter, l.lesson, l.hardware_tier"
                " FROM rag_chunks c JOIN rag_lessons l ON l.path = c.lesson_path"
                # Python's sort order, as read_lessons uses: the index sees one order
                # whether it was built from files or from here.
                ' ORDER BY c.lesson_path COLLATE "C", c.ordinal'
            ).fetchall()
            chunks = tuple(Chunk(*row) for row in rows)
            return StoredCorpus(version, chunks, len({chunk.lesson_path for chunk in chunks}))

        return await self.db.run(read)


_VERSION: Final = "SELECT version FROM rag_corpus"


def _write_lesson(conn: _Conn, lesson: Lesson) -> int:
    """Replace ``lesson``'s row and chunks; returns the number of chunks written."""
    conn.execute("DELETE FROM rag_chunks WHERE lesson_path = %s", (lesson.path,))
    conn.execute(
        "INSERT INTO rag_lessons (path, doc_id, content_hash, chunking, title, url, module,"
        " chapter, lesson, hardware_tier, is_index, description, learning_objectives)"
        " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb)"
        " ON CONFLICT (path) DO UPDATE SET doc_id = EXCLUDED.doc_id,"
        " content_hash = EXCLUDED.content_hash, chunking = EXCLUDED.chunking,"
        " title = EXCLUDED.title, url = EXCLUDED.url, module = EXCLUDED.module,"
        " chapter = EXCLUDED.chapter, lesson = EXCLUDED.lesson,"
        " hardware_tier = EXCLUDED.hardware_tier, is_index = EXCLUDED.is_index,"
        " description = EXCLUDED.description,"
        " learning_objectives = EXCLUDED.learning_objectives, ingested_at = now()",
        (
            lesson.path,
            _clean(lesson.doc_id),
            lesson.content_hash,
            CHUNKING,
            _clean(lesson.title),
            _clean(lesson.url),
            lesson.module,
            lesson.chapter,
            lesson.lesson,
            lesson.hardware_tier,
            lesson.is_index,
            _clean(lesson.description),
            json.dumps([_clean(text) for text in lesson.learning_objectives]),
        ),
    )
    chunks = chunk_lesson(lesson)
    with (
        conn.cursor() as cursor,
        cursor.copy("COPY rag_chunks (lesson_path, ordinal, heading, text) FROM STDIN") as copy,
    ):
        for chunk in chunks:
            copy.write_row(
                (chunk.lesson_path, chunk.ordinal, _clean(chunk.heading), _clean(chunk.text))
            )
    return len(chunks)


def _clean(text: str) -> str:
    # PostgreSQL text cannot hold NUL; one odd byte in one file must not stop an ingest.
    return text.replace("\x00", "")


def _scalar(conn: _Conn, sql: str) -> Any:
    row = conn.execute(sql.encode()).fetchone()
    return None if row is None else row[0]


def _since(started: float) -> float:
    return time.perf_counter() - started

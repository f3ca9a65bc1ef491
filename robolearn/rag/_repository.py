"""The textbook in PostgreSQL: lessons, their chunks and a corpus version (``0002_rag.sql``).

Queries are synchronous psycopg run in worker threads by the database handle (the store's
pool), like every other query in the project.
"""

from __future__ import annotations

import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from typing import Any, Final, Protocol, TypeVar

import attrs
import psycopg

from robolearn._threads import run_sync_in_thread
from robolearn.rag._chunking import Chunk, chunk_lesson
from robolearn.rag._embeddings import Embedder, vector_literal
from robolearn.rag._ingest import CHUNKING, IngestReport, StoredLesson, plan_ingest
from robolearn.rag._lessons import Lesson

__all__ = ["Database", "IngestProgress", "RagRepository", "StoredCorpus", "VectorSearch"]

_T = TypeVar("_T")
_Conn = psycopg.Connection[Any]
_log = logging.getLogger("robolearn.rag")

# Serialises ingests (a server seeding its demo corpus, a CLI ingest) across processes.
_INGEST_LOCK_KEY: Final = 0x7200_7A6
# Chunks embedded per request and per transaction (a failure keeps the batches done).
_EMBED_BATCH: Final = 64
# Embedding inputs are cut to this many characters (a huge code fence stays under the
# model's input limit; its start says what it is about).
_EMBED_CHARS: Final = 6000

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
    """Reads and writes the textbook tables.

    With an ``embedder``, :meth:`ingest` also stores a vector for every chunk that lacks
    one for that model (when the database has pgvector; see ``0004_rag_vectors.sql``).
    """

    db: Database
    embedder: Embedder | None = None

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
        if report is None:
            return None
        embedded = await self.embed_missing() if self.embedder is not None else 0
        return attrs.evolve(report, embedded=embedded, seconds=_since(started))

    async def vectors_enabled(self) -> bool:
        """Whether the database can store chunk embeddings (pgvector was available)."""
        return bool(await self.db.run(lambda conn: _scalar(conn, _HAS_VECTORS)))

    async def embed_missing(self) -> int:
        """Embed the chunks without a vector for ``embedder``'s model; returns how many.

        Only new or changed chunks (or all of them, after a model change) are embedded, in
        batches, each computed outside any transaction and written in its own; a chunk
        rewritten meanwhile keeps no stale vector. Without pgvector nothing happens.
        """
        embedder = self.embedder
        if embedder is None:
            return 0
        model = embedder.name

        def missing(conn: _Conn) -> list[tuple[str, int, str, str, str]] | None:
            if not _scalar(conn, _HAS_VECTORS):
                return None
            return conn.execute(
                "SELECT c.lesson_path, c.ordinal, c.heading, c.text, l.title"
                " FROM rag_chunks c JOIN rag_lessons l ON l.path = c.lesson_path"
                " WHERE c.embedding IS NULL OR c.embedding_model IS DISTINCT FROM %s"
                ' ORDER BY c.lesson_path COLLATE "C", c.ordinal',
                (model,),
            ).fetchall()

        rows = await self.db.run(missing)
        if rows is None:
            _log.warning("the database has no pgvector: chunk embeddings not stored")
            return 0
        embedded = 0
        for start in range(0, len(rows), _EMBED_BATCH):
            batch = rows[start : start + _EMBED_BATCH]
            texts = [_embedding_text(title, heading, text) for _, _, heading, text, title in batch]
            vectors = await run_sync_in_thread(functools.partial(embedder.embed, texts))
            if len(vectors) != len(batch):
                raise ValueError(f"{model}: {len(batch)} texts gave {len(vectors)} embeddings")
            updates = [
                (vector_literal(vector), model, path, ordinal, heading, text)
                for (path, ordinal, heading, text, _), vector in zip(batch, vectors, strict=True)
            ]

            def store(conn: _Conn, updates: list[tuple[Any, ...]] = updates) -> None:
                with conn.transaction(), conn.cursor() as cursor:
                    cursor.executemany(
                        "UPDATE rag_chunks SET embedding = %s::vector, embedding_model = %s"
                        " WHERE lesson_path = %s AND ordinal = %s AND heading = %s"
                        " AND text = %s",
                        updates,
                    )

            await self.db.run(store)
            embedded += len(batch)
        return embedded

    async def nearest_chunks(
        self, embedding: Sequence[float], model: str, limit: int
    ) -> list[str] | None:
        """Chunk ids (``path#ordinal``) nearest ``embedding`` by cosine distance, nearest
        first, among the chunks embedded with ``model``; None without pgvector."""
        literal = vector_literal(embedding)

        def read(conn: _Conn) -> list[str] | None:
            if not _scalar(conn, _HAS_VECTORS):
                return None
            rows = conn.execute(
                "SELECT lesson_path, ordinal FROM rag_chunks"
                " WHERE embedding_model = %s AND embedding IS NOT NULL"
                " ORDER BY embedding <=> %s::vector, lesson_path, ordinal LIMIT %s",
                (model, literal, limit),
            ).fetchall()
            return [f"{path}#{ordinal}" for path, ordinal in rows]

        return await self.db.run(read)

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


@attrs.frozen
class VectorSearch:
    """The query side of vector search: embed a question, rank the stored chunks.

    ``ranking`` is what :meth:`SearchIndex.search_with_coverage` takes as
    ``vector_ranking``. It works from trio and from asyncio (the search tool).
    """

    repository: RagRepository
    embedder: Embedder
    limit: int = 40  # filters apply afterwards, so more than a page of results

    async def ranking(self, query: str) -> list[str] | None:
        """Chunk ids nearest ``query``, nearest first; None when the database has no
        pgvector."""
        vector = (await run_sync_in_thread(lambda: self.embedder.embed([query])))[0]
        return await self.repository.nearest_chunks(vector, self.embedder.name, self.limit)


_VERSION: Final = "SELECT version FROM rag_corpus"
_HAS_VECTORS: Final = (
    "SELECT EXISTS (SELECT 1 FROM information_schema.columns WHERE table_schema ="
    " current_schema() AND table_name = 'rag_chunks' AND column_name = 'embedding')"
)


def _embedding_text(title: str, heading: str, text: str) -> str:
    return "\n".join(part for part in (title, heading, text) if part)[:_EMBED_CHARS]


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

"""Vector search: the pgvector migration, embeddings at ingest, fusion with BM25F."""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
import psycopg
import pytest
from agents.tool_context import ToolContext

from robolearn.chat import SEARCH_TOOL_NAME, search_tool
from robolearn.rag import (
    RagRepository,
    SearchIndex,
    VectorSearch,
    chunk_lessons,
    read_lessons,
)
from robolearn.store import PostgresStore, load_migrations

from .test_ingest import LESSONS, SITE, write_docs

LIDAR = "module-2-sim/chapter-3-sensors/01-lidar.md"
DOCS = {
    **LESSONS,
    LIDAR: (
        "---\ntitle: Lidar\nhardware_tier: 3\n---\n# Lidar\n\n"
        "A lidar measures distance with laser pulses.\n"
    ),
}
# The fake model's "semantics": words that mean the same land on the same dimension.
CONCEPTS = {"bounces": "laser", "light": "laser", "gauge": "measures", "far": "distance"}
QUESTION = "what bounces light to gauge how far?"  # no word of it is in the book


@attrs.frozen
class HashEmbedder:
    """Hashed bag of words in 64 dimensions, normalised; deterministic and offline."""

    name: str = "fake-hash-64"
    dimensions: int | None = 64
    calls: list[int] = attrs.field(factory=list, eq=False)

    def embed(self, texts: Sequence[str]) -> list[list[float]]:
        self.calls.append(len(texts))
        return [self._one(text) for text in texts]

    def _one(self, text: str) -> list[float]:
        vector = [0.0] * 64
        for word in re.findall(r"[a-z]+", text.lower()):
            word = CONCEPTS.get(word, word)
            vector[hashlib.sha256(word.encode()).digest()[0] % 64] += 1.0
        norm = math.sqrt(sum(x * x for x in vector)) or 1.0
        return [x / norm for x in vector]


def stored_embeddings(database_url: str) -> dict[str, str | None]:
    with psycopg.connect(database_url) as conn:
        rows = conn.execute(
            "SELECT lesson_path || '#' || ordinal, embedding_model FROM rag_chunks"
            " WHERE embedding IS NOT NULL"
        ).fetchall()
    return dict(rows)


async def test_the_embedded_postgres_gets_the_vector_column(store: PostgresStore) -> None:
    assert await RagRepository(store).vectors_enabled()


MIGRATION = next(m for m in load_migrations() if m.name == "rag_vectors").sql


def has_embedding_column(conn: psycopg.Connection) -> bool:
    return bool(
        conn.execute(
            "SELECT 1 FROM information_schema.columns"
            " WHERE table_name = 'rag_chunks' AND column_name = 'embedding'"
        ).fetchone()
    )


def test_the_migration_is_harmless_without_pgvector(database_url: str) -> None:
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute("CREATE TABLE rag_chunks (text text)")
        # The extension is not installed on this server.
        conn.execute(MIGRATION.replace("name = 'vector'", "name = 'no_such_extension'").encode())
        assert not has_embedding_column(conn)
        assert not conn.execute("SELECT 1 FROM pg_extension WHERE extname = 'vector'").fetchone()

        # Installed, but the role may not create it (pgvector is not a trusted extension).
        class Undo(Exception):
            pass

        with pytest.raises(Undo), conn.transaction():
            conn.execute("CREATE ROLE robolearn_test_no_superuser")
            conn.execute("SET LOCAL ROLE robolearn_test_no_superuser")
            conn.execute(MIGRATION.encode())
            conn.execute("RESET ROLE")
            assert not has_embedding_column(conn)
            raise Undo  # roles are cluster-wide: roll the role back with the rest

        conn.execute(MIGRATION.encode())  # a superuser gets the column
        assert has_embedding_column(conn)


async def test_ingest_embeds_new_and_changed_chunks_only(
    store: PostgresStore, database_url: str, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path / "docs", DOCS)
    embedder = HashEmbedder()
    repository = RagRepository(store, embedder=embedder)
    report = await repository.ingest(read_lessons(docs, site_url=SITE))
    assert report is not None
    chunks = chunk_lessons(read_lessons(docs, site_url=SITE))
    assert report.embedded == len(chunks)
    assert stored_embeddings(database_url) == {c.chunk_id: "fake-hash-64" for c in chunks}

    again = await repository.ingest(read_lessons(docs, site_url=SITE))
    assert again is not None
    assert (again.embedded, again.written, again.version) == (0, 0, report.version)

    (docs / LIDAR).write_text(DOCS[LIDAR] + "\n## Range\n\nUp to 100 m.\n", encoding="utf-8")
    changed = await repository.ingest(read_lessons(docs, site_url=SITE))
    assert changed is not None
    assert (changed.written, changed.embedded) == (1, 2)  # the lidar lesson's two chunks
    assert len(stored_embeddings(database_url)) == len(chunks) + 1

    # Another model: every chunk is embedded again, though no lesson changed.
    other = RagRepository(store, embedder=HashEmbedder(name="fake-hash-64-v2"))
    switched = await other.ingest(read_lessons(docs, site_url=SITE))
    assert switched is not None
    assert (switched.written, switched.embedded) == (0, len(chunks) + 1)
    assert set(stored_embeddings(database_url).values()) == {"fake-hash-64-v2"}

    # Without an embedder, ingest neither embeds nor calls anything.
    plain = await RagRepository(store).ingest(read_lessons(docs, site_url=SITE))
    assert plain is not None and plain.embedded == 0


async def fused_setup(store: PostgresStore, tmp_path: Path) -> tuple[SearchIndex, VectorSearch]:
    embedder = HashEmbedder()
    repository = RagRepository(store, embedder=embedder)
    await repository.ingest(read_lessons(write_docs(tmp_path / "docs", DOCS), site_url=SITE))
    index = SearchIndex.build((await repository.load()).chunks)
    return index, VectorSearch(repository, embedder)


async def test_fusion_finds_what_the_words_alone_miss(store: PostgresStore, tmp_path: Path) -> None:
    index, vectors = await fused_setup(store, tmp_path)
    ranking = await vectors.ranking(QUESTION)
    assert ranking is not None and ranking[0] == f"{LIDAR}#0"

    lexical = index.search_with_coverage(QUESTION)
    assert LIDAR not in [r.path for r in lexical.results]
    fused = index.search_with_coverage(QUESTION, vector_ranking=ranking)
    assert fused.results[0].path == LIDAR
    assert "laser pulses" in fused.results[0].text
    assert fused.results[0].score == pytest.approx(1 / 61)
    # covered stays the lexical signal.
    assert (fused.covered, fused.confidence) == (lexical.covered, lexical.confidence)

    # A question the words answer keeps its lexical winner on top.
    topical = index.search_with_coverage(
        "gazebo worlds sdf", vector_ranking=await vectors.ranking("gazebo worlds sdf")
    )
    assert topical.results[0].path == "module-2-sim/chapter-2-gazebo/01-worlds.md"


async def test_filters_apply_to_the_vector_ranking(store: PostgresStore, tmp_path: Path) -> None:
    index, vectors = await fused_setup(store, tmp_path)
    ranking = await vectors.ranking(QUESTION)
    assert ranking is not None
    filter_sets: list[dict[str, Any]] = [{"hardware_tier": 2}, {"module": 1}, {"chapter_max": 2}]
    for filters in filter_sets:
        outcome = index.search_with_coverage(QUESTION, vector_ranking=ranking, **filters)
        assert LIDAR not in [r.path for r in outcome.results], filters
    module_1 = index.search_with_coverage(QUESTION, vector_ranking=ranking, module=1)
    assert module_1.results and {r.module for r in module_1.results} == {1}


async def test_without_vector_hits_the_search_is_purely_lexical(
    store: PostgresStore, tmp_path: Path
) -> None:
    index, _ = await fused_setup(store, tmp_path)
    for query in ("node topics", QUESTION):
        lexical = index.search_with_coverage(query, page_path=LIDAR)
        assert index.search_with_coverage(query, page_path=LIDAR, vector_ranking=[]) == lexical
        unknown = index.search_with_coverage(query, page_path=LIDAR, vector_ranking=["nope#0"])
        assert unknown == lexical


async def test_a_page_the_question_points_at_stays_first(
    store: PostgresStore, tmp_path: Path
) -> None:
    index, vectors = await fused_setup(store, tmp_path)
    worlds = "module-2-sim/chapter-2-gazebo/01-worlds.md"
    ranking = await vectors.ranking(QUESTION)
    assert ranking is not None
    outcome = index.search_with_coverage(
        f"explain this: {QUESTION}", page_path=worlds, vector_ranking=ranking
    )
    assert [r.path for r in outcome.results][:2] == [worlds, LIDAR]


async def test_the_tool_fuses_and_falls_back_to_lexical(
    store: PostgresStore, tmp_path: Path
) -> None:
    index, vectors = await fused_setup(store, tmp_path)

    async def call(tool_vectors: VectorSearch | None) -> dict[str, object]:
        arguments = json.dumps({"query": QUESTION})
        tool = search_tool(lambda: index, tool_vectors)
        context = ToolContext(
            context=None,
            tool_name=SEARCH_TOOL_NAME,
            tool_call_id="call_1",
            tool_arguments=arguments,
        )
        output: dict[str, object] = json.loads(await tool.on_invoke_tool(context, arguments))
        return output

    def first_url(output: dict[str, object]) -> object:
        results = output["results"]
        assert isinstance(results, list)
        return results[0]["url"] if results else None

    fused = await call(vectors)
    assert first_url(fused) == f"{SITE}/docs/module-2-sim/chapter-3-sensors/lidar"
    lexical = await call(None)
    assert first_url(lexical) != first_url(fused)

    @attrs.frozen
    class Broken(HashEmbedder):
        def embed(self, texts: Sequence[str]) -> list[list[float]]:
            raise ConnectionError("embedding service down")

    broken = await call(VectorSearch(vectors.repository, Broken()))
    assert broken == lexical

"""Ingest into PostgreSQL: incremental by content hash, idempotent, removals, one version."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

from robolearn.rag import (
    CHUNKING,
    RagRepository,
    StoredLesson,
    chunk_lessons,
    parse_lesson,
    plan_ingest,
    read_lessons,
)
from robolearn.store import PostgresStore

SITE = "https://book.example"

LESSONS = {
    "module-1-ros2/chapter-1-intro/01-nodes.md": (
        "---\nid: nodes\ntitle: Nodes\nhardware_tier: 1\n---\n# Nodes\n\nA node is a program.\n\n"
        "## Topics\n\nNodes publish messages on topics.\n"
    ),
    "module-1-ros2/chapter-1-intro/02-services.md": (
        "---\ntitle: Services\n---\n# Services\n\nA service answers one request.\n"
    ),
    "module-2-sim/chapter-2-gazebo/01-worlds.md": (
        "---\ntitle: Worlds\nhardware_tier: 2\n---\n# Worlds\n\nGazebo worlds are SDF files.\n"
    ),
}


def write_docs(root: Path, files: dict[str, str]) -> Path:
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text, encoding="utf-8")
    return root


def row_versions(database_url: str) -> dict[str, str]:
    """Each lesson's and chunk's xmin: unchanged rows keep theirs across an ingest."""
    with psycopg.connect(database_url) as conn:
        lessons = conn.execute("SELECT path, xmin::text FROM rag_lessons").fetchall()
        chunks = conn.execute(
            "SELECT lesson_path || '#' || ordinal, xmin::text FROM rag_chunks"
        ).fetchall()
    return dict(lessons + chunks)


def test_plan_sorts_lessons_into_write_keep_remove() -> None:
    lessons = [parse_lesson(path, text.encode(), site_url=SITE) for path, text in LESSONS.items()]
    nodes, services, worlds = lessons
    stored = {
        nodes.path: StoredLesson(nodes.content_hash, nodes.url, CHUNKING),
        services.path: StoredLesson("old hash", services.url, CHUNKING),
        worlds.path: StoredLesson(worlds.content_hash, "https://old.example/x", CHUNKING),
        "gone.md": StoredLesson("h", "u", CHUNKING),
    }
    plan = plan_ingest(stored, lessons)
    assert plan.unchanged == (nodes.path,)
    assert [lesson.path for lesson in plan.write] == [services.path, worlds.path]
    assert plan.remove == ("gone.md",)
    stale_chunker = {nodes.path: StoredLesson(nodes.content_hash, nodes.url, "other")}
    assert plan_ingest(stale_chunker, [nodes]).write == (nodes,)
    with pytest.raises(ValueError, match="share a path"):
        plan_ingest({}, [nodes, nodes])


async def test_first_ingest_stores_every_lesson_and_chunk(
    store: PostgresStore, tmp_path: Path
) -> None:
    lessons = read_lessons(write_docs(tmp_path, LESSONS), site_url=SITE)
    progress: list[tuple[int, int, str]] = []
    report = await RagRepository(store).ingest(
        lessons, progress=lambda *args: progress.append(args)
    )
    assert report is not None
    assert (report.lessons, report.written, report.unchanged, report.removed) == (3, 3, 0, 0)
    assert report.version == 1
    assert [done for done, _, _ in progress] == [1, 2, 3]
    corpus = await RagRepository(store).load()
    assert corpus.version == 1
    assert corpus.lessons == 3
    # Same chunks, same order, same metadata as chunking the files directly.
    assert corpus.chunks == tuple(chunk_lessons(lessons))
    assert report.chunks_written == len(corpus.chunks)


async def test_reingest_is_incremental_and_idempotent(
    store: PostgresStore, database_url: str, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path, LESSONS)
    repository = RagRepository(store)
    await repository.ingest(read_lessons(docs, site_url=SITE))
    before = row_versions(database_url)

    again = await repository.ingest(read_lessons(docs, site_url=SITE))
    assert again is not None
    assert (again.written, again.unchanged, again.removed, again.version) == (0, 3, 0, 1)
    assert row_versions(database_url) == before  # not a single row rewritten

    changed = "module-1-ros2/chapter-1-intro/02-services.md"
    (docs / changed).write_text("---\ntitle: Services\n---\n# Services\n\nNow with parameters.\n")
    report = await repository.ingest(read_lessons(docs, site_url=SITE))
    assert report is not None
    assert (report.written, report.unchanged, report.version) == (1, 2, 2)
    after = row_versions(database_url)
    rewritten = {key for key in before if after.get(key) != before[key]}
    assert rewritten == {changed, f"{changed}#0"}
    texts = [chunk.text for chunk in (await repository.load()).chunks]
    assert "Now with parameters." in texts
    assert "A service answers one request." not in texts

    removed = "module-2-sim/chapter-2-gazebo/01-worlds.md"
    (docs / removed).unlink()
    report = await repository.ingest(read_lessons(docs, site_url=SITE))
    assert report is not None
    assert (report.removed, report.written, report.version) == (1, 0, 3)
    corpus = await repository.load()
    assert removed not in {chunk.lesson_path for chunk in corpus.chunks}
    assert corpus.lessons == 2


async def test_a_new_site_url_rewrites_every_url(store: PostgresStore, tmp_path: Path) -> None:
    docs = write_docs(tmp_path, LESSONS)
    repository = RagRepository(store)
    await repository.ingest(read_lessons(docs, site_url=SITE))
    report = await repository.ingest(read_lessons(docs, site_url="https://new.example"))
    assert report is not None and report.written == 3
    urls = {chunk.url for chunk in (await repository.load()).chunks}
    assert all(url.startswith("https://new.example/docs/") for url in urls)


async def test_only_if_empty_never_overwrites_a_stored_book(
    store: PostgresStore, tmp_path: Path
) -> None:
    repository = RagRepository(store)
    lessons = read_lessons(write_docs(tmp_path, LESSONS), site_url=SITE)
    assert await repository.ingest(lessons[:1], only_if_empty=True) is not None
    assert await repository.ingest(lessons, only_if_empty=True) is None
    assert (await repository.load()).lessons == 1


async def test_text_with_nul_characters_is_stored_without_them(
    store: PostgresStore, tmp_path: Path
) -> None:
    docs = write_docs(tmp_path, {"a.md": "# A\n\nbroken\x00byte here\n"})
    await RagRepository(store).ingest(read_lessons(docs, site_url=SITE))
    (chunk,) = (await RagRepository(store).load()).chunks
    assert chunk.text == "brokenbyte here"

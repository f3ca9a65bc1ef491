"""``robolearn ingest`` and ``robolearn eval``: store the textbook, score the tutor."""

from __future__ import annotations

import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

import trio
from openai import OpenAIError

from robolearn._aio import open_aio_stream, open_asyncio_loop
from robolearn.config import Settings
from robolearn.rag import (
    ASKED_DIR,
    Chunk,
    EvalQuestion,
    IngestReport,
    OpenAIEmbedder,
    RagRepository,
    RankScores,
    Refusals,
    RetrievalReport,
    SearchConfig,
    SearchIndex,
    Split,
    TextProgress,
    chunk_lessons,
    evaluate_retrieval,
    indexes_by_author,
    load_asked,
    load_questions,
    read_lessons,
)
from robolearn.store import StoreUnavailable, open_store

if TYPE_CHECKING:
    from robolearn.chat import TutorAnswer

__all__ = ["DEFAULT_QUESTIONS", "evaluate", "ingest"]

# Three authors' question sets from the question bank; fresh3 and fresh5 are held out.
DEFAULT_QUESTIONS = tuple(
    ASKED_DIR / name for name in ("fresh.jsonl", "fresh2.jsonl", "fresh4.jsonl")
)


async def ingest(settings: Settings, docs: Path, *, err: TextIO | None = None) -> IngestReport:
    """Make the database's textbook equal to the Docusaurus tree at ``docs``.

    With ``ROBOLEARN_EMBEDDING_MODEL`` set, chunks lacking a vector for it are embedded.
    """
    err = err or sys.stderr
    try:
        lessons = await trio.to_thread.run_sync(
            lambda: read_lessons(docs, site_url=settings.site_url)
        )
    except FileNotFoundError as exc:
        raise SystemExit(f"robolearn ingest: {exc}") from None
    print(f"robolearn: read {len(lessons)} pages from {docs}", file=err)
    async with open_store(
        settings.database_url, data_dir=settings.data_dir, db_timeout=settings.db_timeout
    ) as store:
        try:
            embedder = (
                OpenAIEmbedder(
                    settings.embedding_model, settings.openai_api_key, settings.embedding_base_url
                )
                if settings.embedding_model
                else None
            )
            repository = RagRepository(store, embedder=embedder)
            if embedder is not None and not await repository.vectors_enabled():
                print(
                    "robolearn: this database has no pgvector; embeddings are not stored",
                    file=err,
                )
            report = await repository.ingest(lessons, progress=TextProgress(err, "ingest"))
        except StoreUnavailable as exc:
            raise SystemExit(f"robolearn ingest: {exc}") from None
        except OpenAIError as exc:  # the book is stored; the next ingest embeds the rest
            raise SystemExit(f"robolearn ingest: embedding failed: {exc}") from None
    assert report is not None  # only ``only_if_empty`` ingests skip
    return report


async def evaluate(
    settings: Settings,
    *,
    docs: Path | None,
    questions_paths: tuple[Path, ...],
    split: Split | None = None,
    end_to_end: bool,
    misses: bool,
    out: TextIO | None = None,
) -> None:
    """Print retrieval (and with ``end_to_end``, cited-answer) scores on question sets.

    The sets in ``questions_paths`` are scored as one. ``split`` scores only the dev or
    the test questions (:func:`robolearn.rag.question_split`). The corpus is the
    database's textbook (what a server answers from), or the docs tree ``docs`` read
    directly when given.
    """
    out = out or sys.stdout
    questions: list[EvalQuestion] = []
    for path in questions_paths:
        try:
            questions += await trio.to_thread.run_sync(load_questions, path, split)
        except FileNotFoundError:
            raise SystemExit(
                f"robolearn eval: no question set at {path}; use --questions"
            ) from None
        except ValueError as exc:
            raise SystemExit(f"robolearn eval: {exc}") from None
    chunks = await _chunks(settings, docs)
    if not chunks:
        raise SystemExit("robolearn eval: the corpus is empty; run `robolearn ingest PATH` first")
    paths = {chunk.lesson_path for chunk in chunks}
    unknown = {path for q in questions for path in q.expected} - paths
    covered = sum(1 for q in questions if q.expected)
    followups = sum(1 for q in questions if q.previous is not None)
    print(
        f"corpus: {len(paths)} pages, {len(chunks)} chunks; questions: {len(questions)} "
        f"({covered} covered of which {followups} follow-ups, {len(questions) - covered} "
        f"not covered) from {', '.join(map(str, questions_paths))}"
        + (f", {split} split" if split else ""),
        file=out,
    )
    if unknown:
        print(
            f"warning: {len(unknown)} expected lessons are not in the corpus "
            "(is the full book ingested?)",
            file=out,
        )
    # Each author's questions are scored by a search that learned from the others' only.
    asked = await trio.to_thread.run_sync(load_asked)
    reports = [
        evaluate_retrieval("retrieval", chunks, SearchConfig(), questions, asked=asked),
        evaluate_retrieval(
            "plain BM25 (oracle thr)", chunks, SearchConfig.plain_bm25(), questions, calibrate=True
        ),
    ]
    print(f"\n{'ranking':<24}{_HEADER}{'FU R@1':>8}{'FU MRR':>8}", file=out)
    for report in reports:
        _print_retrieval(report, out)
    if misses:
        print(f"\nretrieval: {len(reports[0].misses)} questions not ranked first", file=out)
        print("\n".join(reports[0].misses), file=out)
    if end_to_end:
        # The agent stack (Agents SDK, chatkit) takes a second to import: only when asked.
        from robolearn.chat import score_answers

        indexes = indexes_by_author(chunks, SearchConfig(), questions, asked)
        answers = await _answers(indexes, questions)
        tutor = score_answers(answers, next(iter(indexes.values())))
        print(
            f"\ntutor answers ({tutor.answers}, local model + search tool), scored on cited "
            f"lessons:\n{'':<24}{_HEADER}{'cite P':>8}",
            file=out,
        )
        print(
            f"{'cited lessons':<24}"
            + _row(tutor.scores, tutor.refusals, tutor.p50_ms, tutor.p95_ms)
            + f"{tutor.citation_precision:>8.2f}",
            file=out,
        )
        if misses:
            print(
                f"\ntutor: {len(tutor.misses)} answers not citing the right lesson first", file=out
            )
            print("\n".join(tutor.misses), file=out)


async def _chunks(settings: Settings, docs: Path | None) -> tuple[Chunk, ...]:
    if docs is not None:
        try:
            lessons = await trio.to_thread.run_sync(
                lambda: read_lessons(docs, site_url=settings.site_url)
            )
        except FileNotFoundError as exc:
            raise SystemExit(f"robolearn eval: {exc}") from None
        return tuple(chunk_lessons(lessons))
    async with open_store(
        settings.database_url, data_dir=settings.data_dir, db_timeout=settings.db_timeout
    ) as store:
        try:
            return (await RagRepository(store).load()).chunks
        except StoreUnavailable as exc:
            raise SystemExit(f"robolearn eval: {exc}") from None


async def _answers(
    indexes: Mapping[str, SearchIndex], questions: list[EvalQuestion]
) -> list[TutorAnswer]:
    from robolearn.chat import answer_questions

    started = time.perf_counter()
    async with (
        open_asyncio_loop(),
        open_aio_stream(lambda: answer_questions(indexes, questions)) as stream,
    ):
        answers = [answer async for answer in stream]
    print(
        f"(answered {len(answers)} questions in {time.perf_counter() - started:.1f} s)",
        file=sys.stderr,
    )
    return answers


# "OOS refused": out-of-scope questions answered "not covered"; "IS refused": in-scope ones.
_HEADER = (
    f"{'R@1':>6}{'R@5':>6}{'MRR':>7}{'OOS refused':>13}{'IS refused':>12}{'p50 ms':>8}{'p95 ms':>8}"
)


def _row(scores: RankScores, refusals: Refusals, p50_ms: float, p95_ms: float) -> str:
    oos = f"{refusals.out_of_scope}/{refusals.out_of_scope_total}"
    in_scope = f"{refusals.in_scope}/{refusals.in_scope_total}"
    return (
        f"{scores.r1:>6.3f}{scores.r5:>6.3f}{scores.mrr:>7.3f}{oos:>13}{in_scope:>12}"
        f"{p50_ms:>8.3f}{p95_ms:>8.3f}"
    )


def _print_retrieval(report: RetrievalReport, out: TextIO) -> None:
    print(
        f"{report.name:<24}"
        + _row(report.scores, report.refusals, report.p50_ms, report.p95_ms)
        + f"{report.followups.r1:>8.3f}{report.followups.mrr:>8.3f}",
        file=out,
    )

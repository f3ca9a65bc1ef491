"""Retrieval quality and speed of ``robolearn.rag`` on the textbook, vs plain BM25.

    uv run python benchmarks/rag_eval.py [corpus_path] [--misses] [--ablations]
        [--confidences] [--questions robolearn/rag/asked/holdout.jsonl]

Reads ``robolearn/rag/asked/questions.jsonl`` (or ``--questions``): JSON lines
``{"question", "expected": [doc paths], "page"?}`` where ``expected: []`` marks a question
the book does not cover. Reports, for the tuned ranking and for a plain Okapi BM25
baseline over the same chunks: lesson-level R@1, R@5 and MRR on the covered questions,
out-of-scope precision/recall, index build time and p50/p95 search latency.
``holdout.jsonl`` was written after tuning and never tuned on: a generalisation check.
The search learns from the question bank (``robolearn/rag/asked``) without the set's own
author's questions, as ``robolearn eval`` does.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from robolearn.rag import (
    SearchConfig,
    SearchIndex,
    chunk_lessons,
    evaluate_retrieval,
    load_asked,
    load_questions,
    read_lessons,
)

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "robolearn-book"
QUESTIONS = REPO / "robolearn" / "rag" / "asked" / "questions.jsonl"
SITE = "https://robolearn.example"


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("corpus", nargs="?", type=Path, default=DEFAULT_CORPUS)
    parser.add_argument(
        "--questions", type=Path, default=QUESTIONS, help="question set (JSON lines)"
    )
    parser.add_argument("--misses", action="store_true", help="list questions not ranked first")
    parser.add_argument("--ablations", action="store_true", help="also score ranking variants")
    parser.add_argument("--confidences", action="store_true", help="print per-question confidence")
    args = parser.parse_args(argv)
    if not args.corpus.is_dir():
        print(f"corpus not found: {args.corpus}", file=sys.stderr)
        return 2

    started = time.perf_counter()
    lessons = read_lessons(args.corpus, site_url=SITE)
    read_seconds = time.perf_counter() - started
    started = time.perf_counter()
    chunks = chunk_lessons(lessons)
    chunk_seconds = time.perf_counter() - started
    questions = load_questions(args.questions)
    in_scope = sum(1 for q in questions if q.expected)
    print(
        f"corpus: {len(lessons)} pages, {len(chunks)} chunks "
        f"(read {read_seconds * 1000:.0f} ms, chunk {chunk_seconds * 1000:.0f} ms); "
        f"questions: {len(questions)} ({in_scope} covered, "
        f"{sum(1 for q in questions if q.page)} with page, {len(questions) - in_scope} not covered)"
    )

    configs: list[tuple[str, SearchConfig, bool]] = [
        ("robolearn", SearchConfig(), False),
        ("plain BM25", SearchConfig.plain_bm25(), True),
    ]
    if args.ablations:
        tuned = SearchConfig()
        configs += [
            ("- student vocabulary", attrs.evolve(tuned, student_vocabulary=False), False),
            ("- query filler", attrs.evolve(tuned, drop_query_filler=False), False),
            ("- field weights", attrs.evolve(tuned, title_weight=1.0, heading_weight=1.0), False),
            (
                "- page context",
                attrs.evolve(tuned, page_boost=0, chapter_boost=0, page_first_when_pointed=False),
                False,
            ),
            ("- named place", attrs.evolve(tuned, place_boost=0.0), False),
            ("- chunk sum", attrs.evolve(tuned, next_chunk_weight=0.0), False),
            ("- lesson score", attrs.evolve(tuned, lesson_weight=0.0), False),
            ("- asked questions", attrs.evolve(tuned, asked=False), False),
            (
                "- lesson aggregation",
                attrs.evolve(tuned, next_chunk_weight=0.0, lesson_weight=0.0),
                False,
            ),
        ]
    asked = load_asked()
    reports = [
        evaluate_retrieval(name, chunks, config, questions, asked=asked, calibrate=cal)
        for name, config, cal in configs
    ]

    header = (
        f"{'ranking':<22}{'R@1':>6}{'R@5':>6}{'MRR':>7}{'OOS P':>7}{'OOS R':>7}{'thr':>7}"
        f"{'build ms':>10}{'p50 ms':>8}{'p95 ms':>8}"
    )
    print(header)
    for report in reports:
        print(
            f"{report.name:<22}{report.scores.r1:>6.3f}{report.scores.r5:>6.3f}"
            f"{report.scores.mrr:>7.3f}"
            f"{report.oos_precision:>7.2f}{report.oos_recall:>7.2f}{report.threshold:>7.3f}"
            f"{report.build_seconds * 1000:>10.1f}{report.p50_ms:>8.3f}{report.p95_ms:>8.3f}"
        )
    print("(plain BM25's out-of-scope threshold is the best one for it on this set: an oracle)")
    if args.misses:
        for report in reports[:2]:
            print(f"\n{report.name}: {len(report.misses)} questions not ranked first")
            print("\n".join(report.misses))
    if args.confidences:
        authors = {question.author for question in questions}
        index = SearchIndex.build(chunks, asked=[q for q in asked if q.author not in authors])
        for question in questions:
            outcome = index.search_with_coverage(question.text, page_path=question.page)
            flag = "OOS" if not question.expected else "   "
            print(
                f"{outcome.confidence:.3f} {flag} covered={outcome.covered!s:<5} "
                f"missing={list(outcome.missing_terms)} {question.text}"
            )
    return 0


if __name__ == "__main__":
    sys.exit(main())

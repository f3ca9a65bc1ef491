"""Retrieval quality and speed of ``robolearn.rag`` on the textbook, vs plain BM25.

    uv run python benchmarks/rag_eval.py [corpus_path] [--misses] [--ablations]
        [--confidences] [--questions benchmarks/eval/holdout.jsonl]

Reads ``benchmarks/eval/questions.jsonl`` (or ``--questions``): JSON lines
``{"question", "expected": [doc paths], "page"?}`` where ``expected: []`` marks a question
the book does not cover. Reports, for the tuned ranking and for a plain Okapi BM25
baseline over the same chunks: lesson-level R@1, R@5 and MRR on the covered questions,
out-of-scope precision/recall, index build time and p50/p95 search latency.
``holdout.jsonl`` was written after tuning and never tuned on: a generalisation check.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Sequence
from pathlib import Path

import attrs

from robolearn.rag import Chunk, SearchConfig, SearchIndex, chunk_lessons, read_lessons

REPO = Path(__file__).resolve().parents[1]
DEFAULT_CORPUS = REPO.parent / "shared" / "corpus" / "robolearn-book"
QUESTIONS = REPO / "benchmarks" / "eval" / "questions.jsonl"
SITE = "https://robolearn.example"
RANK_DEPTH = 20
LATENCY_ROUNDS = 20


@attrs.frozen
class Question:
    text: str
    expected: tuple[str, ...]
    page: str | None


@attrs.frozen
class Report:
    name: str
    build_seconds: float
    r1: float
    r5: float
    mrr: float
    oos_precision: float
    oos_recall: float
    threshold: float
    p50_ms: float
    p95_ms: float
    misses: tuple[str, ...]


def load_questions(path: Path) -> list[Question]:
    questions = []
    for line in path.read_text(encoding="utf-8").splitlines():
        if line.strip():
            row = json.loads(line)
            questions.append(Question(row["question"], tuple(row["expected"]), row.get("page")))
    return questions


def evaluate(
    name: str,
    chunks: Sequence[Chunk],
    config: SearchConfig,
    questions: Sequence[Question],
    *,
    calibrate: bool = False,
) -> Report:
    started = time.perf_counter()
    index = SearchIndex.build(chunks, config)
    build_seconds = time.perf_counter() - started

    hits1 = hits5 = 0
    reciprocal = 0.0
    misses: list[str] = []
    confidences: list[tuple[float, bool, bool]] = []  # (confidence, pointed-covered, oos)
    in_scope = [q for q in questions if q.expected]
    for question in questions:
        outcome = index.search_with_coverage(
            question.text, limit=RANK_DEPTH, page_path=question.page
        )
        forced = outcome.covered and outcome.confidence < config.covered_threshold
        confidences.append((outcome.confidence, forced, not question.expected))
        if not question.expected:
            continue
        ranked = [result.path for result in outcome.results]
        rank = next((i for i, path in enumerate(ranked, 1) if path in question.expected), None)
        hits1 += rank == 1
        hits5 += rank is not None and rank <= 5
        reciprocal += 1 / rank if rank else 0.0
        if rank != 1:
            top = ranked[0] if ranked else "-"
            misses.append(f"  rank={rank} q={question.text!r}\n      top={top}")

    threshold = _best_threshold(confidences) if calibrate else config.covered_threshold
    precision, recall = _oos_scores(confidences, threshold)

    latencies = []
    for _ in range(LATENCY_ROUNDS):
        for question in questions:
            started = time.perf_counter()
            index.search_with_coverage(question.text, limit=5, page_path=question.page)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return Report(
        name=name,
        build_seconds=build_seconds,
        r1=hits1 / len(in_scope),
        r5=hits5 / len(in_scope),
        mrr=reciprocal / len(in_scope),
        oos_precision=precision,
        oos_recall=recall,
        threshold=threshold,
        p50_ms=statistics.median(latencies),
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))],
        misses=tuple(misses),
    )


def _oos_scores(
    confidences: Sequence[tuple[float, bool, bool]], threshold: float
) -> tuple[float, float]:
    predicted = [(c < threshold and not forced, oos) for c, forced, oos in confidences]
    true_positive = sum(p and o for p, o in predicted)
    flagged = sum(p for p, _ in predicted)
    actual = sum(o for _, o in predicted)
    precision = true_positive / flagged if flagged else 1.0
    recall = true_positive / actual if actual else 1.0
    return precision, recall


def _best_threshold(confidences: Sequence[tuple[float, bool, bool]]) -> float:
    """The threshold with the best out-of-scope F1 (an oracle, for the baseline only)."""
    candidates = sorted({c for c, _, _ in confidences} | {0.0, 1.01})

    def f1(threshold: float) -> float:
        precision, recall = _oos_scores(confidences, threshold)
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    return max(candidates, key=lambda t: (f1(t), -t))


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
            (
                "- lesson aggregation",
                attrs.evolve(tuned, next_chunk_weight=0.0, lesson_weight=0.0),
                False,
            ),
        ]
    reports = [
        evaluate(name, chunks, config, questions, calibrate=cal) for name, config, cal in configs
    ]

    header = (
        f"{'ranking':<22}{'R@1':>6}{'R@5':>6}{'MRR':>7}{'OOS P':>7}{'OOS R':>7}{'thr':>7}"
        f"{'build ms':>10}{'p50 ms':>8}{'p95 ms':>8}"
    )
    print(header)
    for report in reports:
        print(
            f"{report.name:<22}{report.r1:>6.3f}{report.r5:>6.3f}{report.mrr:>7.3f}"
            f"{report.oos_precision:>7.2f}{report.oos_recall:>7.2f}{report.threshold:>7.3f}"
            f"{report.build_seconds * 1000:>10.1f}{report.p50_ms:>8.3f}{report.p95_ms:>8.3f}"
        )
    print("(plain BM25's out-of-scope threshold is the best one for it on this set: an oracle)")
    if args.misses:
        for report in reports[:2]:
            print(f"\n{report.name}: {len(report.misses)} questions not ranked first")
            print("\n".join(report.misses))
    if args.confidences:
        index = SearchIndex.build(chunks)
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

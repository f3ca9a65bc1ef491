"""Retrieval quality on a question set: lesson-level R@1, R@5, MRR and out-of-scope handling.

Question sets are read by :mod:`robolearn.rag._questions`. ``robolearn eval`` and
``benchmarks/rag_eval.py`` both score with this module.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Iterable, Mapping, Sequence

import attrs

from robolearn.rag._chunking import Chunk
from robolearn.rag._questions import EvalQuestion
from robolearn.rag._search import SearchConfig, SearchIndex, SearchOutcome

__all__ = [
    "Coverage",
    "RankScores",
    "Refusals",
    "RetrievalReport",
    "best_oos_threshold",
    "evaluate_retrieval",
    "indexes_by_author",
    "oos_scores",
    "rank_scores",
]

RANK_DEPTH = 20


@attrs.frozen
class RankScores:
    """Recall at 1 and 5 and mean reciprocal rank of the first relevant answer."""

    r1: float
    r5: float
    mrr: float


@attrs.frozen
class RetrievalReport:
    """How one ranking did: quality on covered questions, out-of-scope flags, speed.

    ``scores`` are over every covered question, ``followups`` over the follow-ups alone.
    """

    name: str
    build_seconds: float
    scores: RankScores
    oos_precision: float
    oos_recall: float
    threshold: float
    refusals: Refusals
    followups: RankScores
    p50_ms: float
    p95_ms: float
    misses: tuple[str, ...]


@attrs.frozen
class Refusals:
    """How many questions were flagged "not covered", out of scope and in scope."""

    out_of_scope: int
    out_of_scope_total: int
    in_scope: int
    in_scope_total: int

    @classmethod
    def count(cls, flags: Iterable[tuple[bool, bool]]) -> Refusals:
        """From ``(flagged, really out of scope)`` pairs."""
        pairs = list(flags)
        return cls(
            out_of_scope=sum(flagged and oos for flagged, oos in pairs),
            out_of_scope_total=sum(oos for _, oos in pairs),
            in_scope=sum(flagged and not oos for flagged, oos in pairs),
            in_scope_total=sum(not oos for _, oos in pairs),
        )


def rank_scores(ranks: Sequence[int | None]) -> RankScores:
    """Scores from each covered question's 1-based rank of its first relevant lesson."""
    if not ranks:
        return RankScores(0.0, 0.0, 0.0)
    return RankScores(
        r1=sum(rank == 1 for rank in ranks) / len(ranks),
        r5=sum(rank is not None and rank <= 5 for rank in ranks) / len(ranks),
        mrr=sum(1 / rank for rank in ranks if rank) / len(ranks),
    )


def first_relevant_rank(ranked: Iterable[str], expected: Sequence[str]) -> int | None:
    """The 1-based position of the first path in ``ranked`` that is ``expected``."""
    return next((i for i, path in enumerate(ranked, 1) if path in expected), None)


def oos_scores(flags: Iterable[tuple[bool, bool]]) -> tuple[float, float]:
    """Precision and recall of "not covered" flags, from ``(flagged, really out of scope)``."""
    pairs = list(flags)
    true_positive = sum(flagged and actual for flagged, actual in pairs)
    flagged = sum(flagged for flagged, _ in pairs)
    actual = sum(actual for _, actual in pairs)
    return (
        true_positive / flagged if flagged else 1.0,
        true_positive / actual if actual else 1.0,
    )


@attrs.frozen
class Coverage:
    """What a search said of one question's coverage, and whether it is out of scope.

    ``forced`` and ``vetoed`` say the search's decision did not follow ``confidence``: a
    question about the open page is covered whatever its confidence, and so is one much
    like a question students asked that the book answers; one more like a question the
    book does not cover is not, nor one naming a rare word the book lacks unless it is
    matched very well, nor one off the book's subjects. Another threshold can then be
    tried on the same searches.
    """

    confidence: float
    forced: bool
    vetoed: bool
    out_of_scope: bool

    @classmethod
    def of(cls, outcome: SearchOutcome, config: SearchConfig, out_of_scope: bool) -> Coverage:
        rare = bool(outcome.rare_names) and outcome.confidence < config.rare_name_threshold
        about_page = outcome.covered and outcome.about_page
        doubted = not about_page and config.doubts(outcome.resemblance)
        forced = about_page or (not doubted and config.vouches(outcome.resemblance))
        return cls(
            confidence=outcome.confidence,
            forced=forced,
            vetoed=not forced and (doubted or rare or outcome.off_topic),
            out_of_scope=out_of_scope,
        )

    def refused_at(self, threshold: float) -> bool:
        return self.vetoed or (self.confidence < threshold and not self.forced)


def best_oos_threshold(coverage: Sequence[Coverage]) -> float:
    """The confidence threshold with the best out-of-scope F1 (an oracle, for baselines)."""
    candidates = sorted({c.confidence for c in coverage} | {0.0, 1.01})

    def f1(threshold: float) -> float:
        precision, recall = oos_scores(_flags(coverage, threshold))
        return 2 * precision * recall / (precision + recall) if precision + recall else 0.0

    return max(candidates, key=lambda t: (f1(t), -t))


def evaluate_retrieval(
    name: str,
    chunks: Sequence[Chunk],
    config: SearchConfig,
    questions: Sequence[EvalQuestion],
    *,
    asked: Sequence[EvalQuestion] = (),
    calibrate: bool = False,
    latency_rounds: int = 20,
) -> RetrievalReport:
    """Build an index over ``chunks`` with ``config`` and score it on ``questions``.

    ``asked`` is the question bank the search learns from; each question is scored by an
    index without its author's questions (:func:`indexes_by_author`). ``calibrate`` picks
    the best out-of-scope threshold for this ranking (an oracle) instead of
    ``config.covered_threshold``. Latency is measured over ``latency_rounds`` passes of
    the question set at ``limit=5``, as the tutor searches.
    """
    started = time.perf_counter()
    indexes = indexes_by_author(chunks, config, questions, asked)
    build_seconds = (time.perf_counter() - started) / len(indexes)

    ranks: list[int | None] = []
    followup_ranks: list[int | None] = []
    misses: list[str] = []
    coverage: list[Coverage] = []
    for question in questions:
        outcome = _search(indexes[question.author], question, RANK_DEPTH)
        coverage.append(Coverage.of(outcome, config, out_of_scope=not question.expected))
        if not question.expected:
            continue
        ranked = [result.path for result in outcome.results]
        rank = first_relevant_rank(ranked, question.expected)
        ranks.append(rank)
        if question.previous is not None:
            followup_ranks.append(rank)
        if rank != 1:
            top = ranked[0] if ranked else "-"
            misses.append(f"  rank={rank} q={question.text!r}\n      top={top}")

    threshold = best_oos_threshold(coverage) if calibrate else config.covered_threshold
    flags = _flags(coverage, threshold)
    precision, recall = oos_scores(flags)

    latencies = []
    for _ in range(latency_rounds):
        for question in questions:
            index = indexes[question.author]
            started = time.perf_counter()
            _search(index, question, 5)
            latencies.append((time.perf_counter() - started) * 1000)
    latencies.sort()
    return RetrievalReport(
        name=name,
        build_seconds=build_seconds,
        scores=rank_scores(ranks),
        oos_precision=precision,
        oos_recall=recall,
        threshold=threshold,
        refusals=Refusals.count(flags),
        followups=rank_scores(followup_ranks),
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
        misses=tuple(misses),
    )


def indexes_by_author(
    chunks: Sequence[Chunk],
    config: SearchConfig,
    questions: Iterable[EvalQuestion],
    asked: Sequence[EvalQuestion],
) -> Mapping[str, SearchIndex]:
    """An index for each author of ``questions``, learning from the ``asked`` questions of
    every other author: a question is never scored by a search that has seen it, or its
    author's other questions (authors repeat their wording)."""
    authors = {question.author for question in questions}
    if not config.asked or not asked:
        index = SearchIndex.build(chunks, config)
        return dict.fromkeys(authors, index)
    return {
        author: SearchIndex.build(chunks, config, asked=[q for q in asked if q.author != author])
        for author in sorted(authors)
    }


def _search(index: SearchIndex, question: EvalQuestion, limit: int) -> SearchOutcome:
    # As the tutor searches: with the page being read and the student's previous message.
    return index.search_with_coverage(
        question.text, limit=limit, page_path=question.page, previous=question.previous
    )


def _flags(coverage: Sequence[Coverage], threshold: float) -> list[tuple[bool, bool]]:
    return [(c.refused_at(threshold), c.out_of_scope) for c in coverage]

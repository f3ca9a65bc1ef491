"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

End-to-end tutor evaluation: questions through the agent (model + search tool), scored
on the lessons the answers cite.

Retrieval metrics (:func:`robolearn.rag.evaluate_retrieval`) say whether the right lesson
is found; these say whether the answer a student reads cites it, and whether questions
the book does not cover are answered "The book does not cover this" without citations.
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Final

import attrs
from agents import Agent, RunConfig, Runner, TResponseInputItem
from agents.models.interface import Model

from robolearn.rag import (
    EvalQuestion,
    RankScores,
    Refusals,
    SearchIndex,
    first_relevant_rank,
    oos_scores,
    rank_scores,
)

from ._answer import NOT_COVERED
from ._context import PageContext, RequestContext
from ._local_model import LocalTutorModel
from ._prompt import build_instructions
from ._tool import search_tool

__all__ = ["TutorAnswer", "TutorReport", "answer_questions", "cited_urls", "score_answers"]

_LINK: Final = re.compile(r"\[[^\]]+\]\((https?://[^)\s]+)\)")


@attrs.frozen
class TutorAnswer:
    """One question's answer text and how long the agent took."""

    question: EvalQuestion
    text: str
    seconds: float


@attrs.frozen
class TutorReport:
    """Scores over the lessons the answers cite, in citation order.

    ``scores`` rank the first expected lesson among the cited ones (R@1: the first
    citation is right); ``citation_precision`` is the share of cited lessons that are
    expected, over covered questions; out-of-scope flags are answers that say the book
    does not cover the question and cite nothing.
    """

    answers: int
    scores: RankScores
    citation_precision: float
    oos_precision: float
    oos_recall: float
    refusals: Refusals
    p50_ms: float
    p95_ms: float
    misses: tuple[str, ...]


def cited_urls(answer: str) -> list[str]:
    """The URLs of the markdown links in ``answer``, first citation first, no repeats."""
    return list(dict.fromkeys(match[1] for match in _LINK.finditer(answer)))


async def answer_questions(
    indexes: Mapping[str, SearchIndex],
    questions: Sequence[EvalQuestion],
    *,
    model: Model | None = None,
) -> AsyncIterator[TutorAnswer]:
    """Run each question through the agent (asyncio code), as a thread's first message.

    A question searches ``indexes[question.author]`` (see
    :func:`~robolearn.rag.indexes_by_author`). The model defaults to the offline tutor
    without delays. A question's ``page`` becomes the reader's page context, as the
    frontend would send it. A follow-up is the second message of its thread: its
    ``previous`` message is answered first (untimed) and that exchange is the history the
    follow-up is asked after.
    """
    model = model or LocalTutorModel(delay=0)
    tools = {author: search_tool(_always(index)) for author, index in indexes.items()}
    for question in questions:
        page = _page(indexes[question.author], question.page)
        agent = Agent[RequestContext](
            name="RoboLearn Assistant",
            instructions=build_instructions(None, page),
            model=model,
            tools=[tools[question.author]],
        )
        context = RequestContext(user_id="eval", page_context=page)
        run_config = RunConfig(tracing_disabled=True)
        turn: str | list[TResponseInputItem] = question.text
        if question.previous is not None:
            earlier = await Runner.run(
                agent, question.previous, context=context, run_config=run_config
            )
            turn = [*earlier.to_input_list(), {"role": "user", "content": question.text}]
        started = time.perf_counter()
        result = await Runner.run(agent, turn, context=context, run_config=run_config)
        yield TutorAnswer(question, str(result.final_output), time.perf_counter() - started)


def score_answers(answers: Sequence[TutorAnswer], index: SearchIndex) -> TutorReport:
    """Score ``answers``: cited URLs are mapped back to lesson paths through ``index``."""
    paths = {chunk.url: chunk.lesson_path for chunk in index.chunks}
    ranks: list[int | None] = []
    precisions: list[float] = []
    flags: list[tuple[bool, bool]] = []
    misses: list[str] = []
    for answer in answers:
        expected = answer.question.expected
        cited = [paths.get(url, url) for url in cited_urls(answer.text)]
        flagged = answer.text.startswith(NOT_COVERED) and not cited
        flags.append((flagged, not expected))
        if not expected:
            if not flagged:
                misses.append(f"  not flagged: {answer.question.text!r} cited={cited}")
            continue
        rank = first_relevant_rank(cited, expected)
        ranks.append(rank)
        precisions.append(sum(path in expected for path in cited) / len(cited) if cited else 0.0)
        if rank != 1:
            misses.append(f"  rank={rank} q={answer.question.text!r}\n      cited={cited}")
    precision, recall = oos_scores(flags)
    latencies = sorted(answer.seconds * 1000 for answer in answers)
    return TutorReport(
        answers=len(answers),
        scores=rank_scores(ranks),
        citation_precision=statistics.fmean(precisions) if precisions else 0.0,
        oos_precision=precision,
        oos_recall=recall,
        refusals=Refusals.count(flags),
        p50_ms=statistics.median(latencies) if latencies else 0.0,
        p95_ms=latencies[int(0.95 * (len(latencies) - 1))] if latencies else 0.0,
        misses=tuple(misses),
    )


def _always(index: SearchIndex) -> Callable[[], SearchIndex]:
    return lambda: index


def _page(index: SearchIndex, path: str | None) -> PageContext | None:
    if path is None:
        return None
    chunk = index.page(path)
    return PageContext(
        path=path, title=chunk.title if chunk else None, url=chunk.url if chunk else None
    )

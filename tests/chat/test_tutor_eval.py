"""Scoring tutor answers on the lessons they cite."""

from __future__ import annotations

from robolearn.chat._tutor_eval import TutorAnswer, cited_urls, score_answers
from robolearn.rag import EvalQuestion, SearchIndex, chunk_lessons, demo_lessons

SITE = "https://robolearn.github.io"
WHAT = "module-1-ros2-basics/chapter-1-meet-ros2/01-what-is-ros2.md"
NODES = "module-1-ros2-basics/chapter-1-meet-ros2/02-nodes-and-topics.md"


def url(index: SearchIndex, path: str) -> str:
    return next(chunk.url for chunk in index.chunks if chunk.lesson_path == path)


def test_citations_are_scored_in_order_and_refusals_count_as_flags() -> None:
    index = SearchIndex.build(chunk_lessons(demo_lessons(SITE)))
    what, nodes = url(index, WHAT), url(index, NODES)
    assert cited_urls(f"see [a]({what}) and [b]({nodes}) and [a again]({what})") == [what, nodes]
    answers = [
        TutorAnswer(EvalQuestion("q1", (WHAT,)), f"x\n- [A]({what})\n- [B]({nodes})", 0.001),
        TutorAnswer(EvalQuestion("q2", (WHAT,)), f"x\n- [B]({nodes})\n- [A]({what})", 0.002),
        TutorAnswer(EvalQuestion("q3", ()), "The book does not cover this. Sorry.", 0.001),
        TutorAnswer(EvalQuestion("q4", ()), f"Here: [B]({nodes})", 0.001),
    ]
    report = score_answers(answers, index)
    assert (report.scores.r1, report.scores.r5, report.scores.mrr) == (0.5, 1.0, 0.75)
    assert report.citation_precision == 0.5
    assert (report.oos_precision, report.oos_recall) == (1.0, 0.5)
    assert report.answers == 4
    assert len(report.misses) == 2

"""Questions students asked about the book, each with the lessons that answer it, and what
the search learns from them.

Students ask about a lesson in words its text does not use: symptoms ("my robot just
floats in the air"), goals, slang. Questions other students asked, each labelled with the
lessons that answer it (or none: the book does not cover it), carry exactly those words,
as a search engine's query log does. The search uses them twice:

* every lesson's asked questions are one more document for it, and a new question's BM25
  score against that document adds to the lesson's score;
* a new question much like one the book does not cover, and less like any it does, is not
  covered either; one much like a question the book answers is covered, however few of
  its words the book's passages use.

Only questions that stand alone count: a follow-up or a question about the open page
means nothing without them. The bank shipped with the package (``asked/``) is the
RoboLearn book's: the question sets ``robolearn eval`` scores on, each author's questions
scored against a bank without them. A bank whose lessons are mostly missing from the
indexed book was written for another book and is not used at all.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path
from types import MappingProxyType
from typing import Final

import attrs

from robolearn.rag._analyzer import analyze_query
from robolearn.rag._bm25 import Bm25Index, FieldSpec
from robolearn.rag._questions import EvalQuestion, load_questions

__all__ = ["ASKED_DIR", "AskedIndex", "Resemblance", "load_asked"]

ASKED_DIR: Final = Path(__file__).resolve().parent / "asked"
"""The RoboLearn book's question bank, shipped with the package."""

_FIELDS: Final = {"asked": FieldSpec(1.0, 0.75)}


def load_asked(directory: Path = ASKED_DIR) -> tuple[EvalQuestion, ...]:
    """Every question of the ``*.jsonl`` sets in ``directory``, file by file."""
    return tuple(
        question for path in sorted(directory.glob("*.jsonl")) for question in load_questions(path)
    )


@attrs.frozen
class Resemblance:
    """How much a question is like asked ones: the cosine of its TF-IDF vector to the
    nearest question the book answers (``answered``) and to the nearest it does not."""

    answered: float = 0.0
    unanswered: float = 0.0


@attrs.frozen
class AskedIndex:
    """Asked questions, indexed for one book's lessons (numbered like its lesson paths)."""

    lessons: Bm25Index
    _postings: Mapping[str, tuple[tuple[int, float], ...]]  # term → (question, vector weight)
    _idf: Mapping[str, float]
    _answered: tuple[bool, ...]

    @classmethod
    def build(cls, asked: Iterable[EvalQuestion], lesson_paths: Sequence[str]) -> AskedIndex | None:
        """Index the standalone questions of ``asked`` for the lessons ``lesson_paths``.

        None when no question names one of them, or more than half of the lessons the
        questions name are not among them: the bank was written for another book.
        """
        standalone = [q for q in asked if q.page is None and q.previous is None]
        named = {path for q in standalone for path in q.expected}
        known = set(lesson_paths)
        if not named & known or 2 * len(named & known) < len(named):
            return None
        position = {path: i for i, path in enumerate(lesson_paths)}
        per_lesson: list[list[str]] = [[] for _ in lesson_paths]
        questions: list[tuple[Counter[str], bool]] = []
        for question in standalone:
            terms = analyze_query(question.text)
            lessons = [position[path] for path in question.expected if path in known]
            if not terms or (question.expected and not lessons):
                continue  # says nothing, or answered only by lessons this book lacks
            for lesson in lessons:
                per_lesson[lesson].extend(terms)
            questions.append((Counter(terms), not question.expected))
        frequency = Counter(term for counts, _ in questions for term in counts)
        idf = {term: _idf(len(questions), count) for term, count in frequency.items()}
        postings: dict[str, list[tuple[int, float]]] = {}
        for number, (counts, _) in enumerate(questions):
            for term, weight in _unit({t: n * idf[t] for t, n in counts.items()}).items():
                postings.setdefault(term, []).append((number, weight))
        return cls(
            lessons=Bm25Index.build([{"asked": terms} for terms in per_lesson], _FIELDS),
            postings=MappingProxyType({t: tuple(p) for t, p in postings.items()}),
            idf=MappingProxyType(idf),
            answered=tuple(not unanswered for _, unanswered in questions),
        )

    @property
    def size(self) -> int:
        """How many asked questions it learned from."""
        return len(self._answered)

    def resemblance(self, weights: Mapping[str, float]) -> Resemblance:
        """How much a question (its term → weight) is like the asked ones."""
        # A term no asked question has is as specific as a term can be here.
        unseen = _idf(len(self._answered), 0)
        vector = _unit({term: w * self._idf.get(term, unseen) for term, w in weights.items()})
        dots: dict[int, float] = {}
        for term, weight in vector.items():
            for number, other in self._postings.get(term, ()):
                dots[number] = dots.get(number, 0.0) + weight * other
        answered = unanswered = 0.0
        for number, dot in dots.items():
            if self._answered[number]:
                answered = max(answered, dot)
            else:
                unanswered = max(unanswered, dot)
        return Resemblance(answered=answered, unanswered=unanswered)


def _idf(questions: int, frequency: int) -> float:
    return math.log(1 + questions / max(frequency, 1))


def _unit(vector: Mapping[str, float]) -> dict[str, float]:
    norm = math.sqrt(sum(value * value for value in vector.values()))
    return {term: value / norm for term, value in vector.items()} if norm else {}

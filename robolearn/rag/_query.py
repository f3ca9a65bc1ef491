"""Understanding a student's question before it meets the index.

A question becomes weighted index terms (the student's own words at full weight, book
synonyms at a lower one), plus two facts about where it points: a place the student
names ("the module 1 capstone", "lesson 4.2") and whether it is about the page being
read ("explain this example").
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

import attrs

from robolearn.rag._analyzer import analyze, analyze_query, words

# Student shorthand the book spells out. The short form is replaced, not just expanded:
# the book uses some of these in other senses ("sim-to-real"), so matching them as
# written would pull in the wrong pages.
STUDENT_SHORTHAND: Final = (
    ("sim", "simulation"),
    ("bot", "robot"),
    ("pub", "publisher"),
    ("sub", "subscriber"),
    ("msg", "message"),
    ("srv", "service"),
    ("param", "parameter"),
    ("config", "configuration"),
    ("env", "environment"),
    ("gz", "gazebo"),
)

# Everyday student words → the book's words, added at a lower weight next to the
# student's own word. General vocabulary only: each pair is a synonym a reader of any
# ROS/Gazebo text would recognise, not a fix for one question.
STUDENT_SYNONYMS: Final = (
    ("talker", "publisher"),
    ("listener", "subscriber"),
    ("settings", "parameter configuration"),
    ("laser", "lidar"),
    ("scanner", "lidar"),
    ("gyro", "imu"),
    ("gyroscope", "imu"),
    ("accelerometer", "imu"),
    ("bump", "contact collision"),
    ("touch", "contact"),
    ("motor", "actuator"),
    ("lag", "latency"),
    ("delay", "latency"),
    ("speed", "velocity"),
    ("colour", "color"),
    ("log", "logger"),
    ("logging", "logger"),
    ("bug", "debug"),
    ("broken", "debug"),
    ("check", "validate test"),
    ("compute", "calculate"),
    ("floor", "ground"),
    ("spec", "specification"),
    ("speech", "voice"),
    ("spoken", "voice"),
    ("people", "human"),
    ("person", "human"),
    ("freeze", "block"),
    ("hang", "block"),
    ("stuck", "block"),
)

# "module 2", "part 3", "chapter 10", "lesson 4.2": the reader naming a place in the book.
_MODULE_REF: Final = re.compile(r"\b(?:module|part)\s*(\d+)\b")
_CHAPTER_REF: Final = re.compile(r"\bchapter\s*(\d+)\b")
_LESSON_REF: Final = re.compile(r"\blesson\s*(\d+)(?:\.(\d+))?\b")

# Words that make a question about the page being read ("explain this example").
_DEICTIC_WORDS: Final = frozenset({"this", "these", "here", "current", "above"})


@attrs.frozen
class BookPlace:
    """The module/chapter/lesson a question names explicitly (None = not named)."""

    module: int | None = None
    chapter: int | None = None
    lesson: int | None = None

    @classmethod
    def named_in(cls, question: str) -> BookPlace:
        text = question.casefold()
        module = _MODULE_REF.search(text)
        chapter = _CHAPTER_REF.search(text)
        lesson = _LESSON_REF.search(text)
        chapter_number = int(chapter[1]) if chapter else None
        lesson_number = None
        if lesson and lesson[2] is not None:  # "lesson 4.2" is chapter 4, lesson 2
            chapter_number, lesson_number = int(lesson[1]), int(lesson[2])
        elif lesson:
            lesson_number = int(lesson[1])
        return cls(int(module[1]) if module else None, chapter_number, lesson_number)

    @property
    def is_named(self) -> bool:
        return not (self.module is None and self.chapter is None and self.lesson is None)

    def contains(self, module: int | None, chapter: int | None, lesson: int | None) -> bool:
        """Whether a page numbered ``module``/``chapter``/``lesson`` is in this place."""
        return all(
            wanted is None or wanted == actual
            for wanted, actual in (
                (self.module, module),
                (self.chapter, chapter),
                (self.lesson, lesson),
            )
        )


@attrs.frozen
class Query:
    """An analyzed question.

    ``terms`` are the question's own index terms (shorthand spelled out), the basis of
    the coverage estimate; ``weights`` adds synonyms at their lower weight and is what
    the index scores.
    """

    terms: tuple[str, ...]
    weights: Mapping[str, float]
    place: BookPlace
    points_at_page: bool


@attrs.frozen
class QueryAnalyzer:
    """Turns questions into :class:`Query` values; built once per index."""

    shorthand: Mapping[str, tuple[str, ...]]
    synonyms: Mapping[str, tuple[str, ...]]
    synonym_weight: float
    drop_filler: bool
    previous_weight: float = 0.0

    @classmethod
    def create(
        cls,
        *,
        student_vocabulary: bool,
        synonym_weight: float,
        drop_filler: bool,
        previous_weight: float = 0.0,
    ) -> QueryAnalyzer:
        """``student_vocabulary=False`` disables shorthand and synonyms (plain BM25)."""
        shorthand: dict[str, tuple[str, ...]] = {}
        synonyms: dict[str, tuple[str, ...]] = {}
        if student_vocabulary:
            for short, book in STUDENT_SHORTHAND:
                for term in analyze(short):
                    shorthand[term] = tuple(analyze(book))
            for student, book in STUDENT_SYNONYMS:
                for term in analyze(student):
                    merged = [*synonyms.get(term, ()), *analyze(book)]
                    synonyms[term] = tuple(dict.fromkeys(merged))
        return cls(
            shorthand=MappingProxyType(shorthand),
            synonyms=MappingProxyType(synonyms),
            synonym_weight=synonym_weight,
            drop_filler=drop_filler,
            previous_weight=previous_weight,
        )

    def analyze(
        self,
        question: str,
        previous: str | None = None,
        corrections: Mapping[str, str] = MappingProxyType({}),
    ) -> Query:
        """Analyze ``question``; ``previous`` is the student's earlier message, if any.

        A follow-up ("and on windows?") leaves its topic in the earlier message, so that
        message's terms join the query at ``previous_weight``: enough to pick the topic,
        too little to outvote what the student asks now. ``corrections`` replaces the
        terms of misspelled words with the book's (see :mod:`robolearn.rag._vocabulary`).
        """
        terms = self._terms(question, corrections)
        weights: dict[str, float] = dict(Counter(terms))
        self._add_synonyms(weights, terms, 1.0)
        if previous and self.previous_weight > 0:
            earlier = self._terms(previous, corrections)
            for term in earlier:
                weights.setdefault(term, self.previous_weight)
            self._add_synonyms(weights, earlier, self.previous_weight)
        return Query(
            terms=terms,
            weights=MappingProxyType(weights),
            place=BookPlace.named_in(question),
            points_at_page=not _DEICTIC_WORDS.isdisjoint(words(question)),
        )

    def _terms(self, text: str, corrections: Mapping[str, str]) -> tuple[str, ...]:
        raw = analyze_query(text) if self.drop_filler else analyze(text)
        return tuple(
            spelled
            for term in raw
            for spelled in self.shorthand.get(term, (corrections.get(term, term),))
        )

    @property
    def understood(self) -> frozenset[str]:
        """The student's terms this analyzer maps to the book's own (shorthand, synonyms)."""
        return frozenset(self.shorthand) | frozenset(self.synonyms)

    def _add_synonyms(
        self, weights: dict[str, float], terms: tuple[str, ...], scale: float
    ) -> None:
        for term in terms:
            for synonym in self.synonyms.get(term, ()):
                weights.setdefault(synonym, self.synonym_weight * scale)

"""Question sets for the retrieval evaluation: reading them and splitting them dev/test.

A question set is JSON lines::

    {"id": "f001", "question": "...", "expected": [doc paths], "kind": "symptom",
     "source": "doc path it was written from", "page": "doc path being read",
     "previous": "the student's previous message", "author": "who wrote it"}

Only ``question`` and ``expected`` are required; an empty ``expected`` marks a question
the book does not cover. ``previous`` makes a follow-up: it only makes sense after that
earlier message. ``page`` is the lesson the reader has open. ``author`` names who wrote
the question (default: the file's name without its suffix): the search learns from the
questions of other authors (:mod:`robolearn.rag._asked`), never from those it is scored on.

The dev/test split is a fixed function of each question's *group* (its source lesson, or
its id, or its text), chosen before any tuning, so that every question written from one
lesson lands on the same side: tuning on dev cannot learn a test lesson's wording.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any, Final, Literal

import attrs

__all__ = ["SPLITS", "EvalQuestion", "Split", "load_questions", "question_split", "select_split"]

Split = Literal["dev", "test"]
SPLITS: Final[tuple[Split, ...]] = ("dev", "test")
# Part of the hash input: changing it would re-deal every question, so it never changes.
_SPLIT_SALT: Final = "robolearn-eval-v1/"


@attrs.frozen
class EvalQuestion:
    """One question; ``expected`` doc paths (empty: out of scope); ``page`` being read.

    ``previous`` is the student's earlier message when this one is a follow-up; ``kind``
    says how the question was written (symptom, concept, followup, page, out-of-scope);
    ``group`` decides its split (see :func:`question_split`); ``author`` wrote it.
    """

    text: str
    expected: tuple[str, ...]
    page: str | None = None
    previous: str | None = None
    kind: str = ""
    group: str = ""
    author: str = ""

    @property
    def split(self) -> Split:
        return question_split(self.group or self.text)


def question_split(group: str) -> Split:
    """``dev`` or ``test`` for a group key: the parity of the first byte of its SHA-256."""
    digest = hashlib.sha256((_SPLIT_SALT + group).encode("utf-8")).digest()
    return "dev" if digest[0] % 2 == 0 else "test"


def load_questions(path: Path, split: Split | None = None) -> list[EvalQuestion]:
    """Read a question set (JSON lines), all of it or one ``split``.

    Raises :class:`ValueError` naming the file and line of a row that is not a question.
    """
    questions = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if line.strip():
            try:
                questions.append(_question(json.loads(line), path))
            except (ValueError, KeyError, TypeError, AttributeError) as exc:
                raise ValueError(
                    f"{path}:{number}: not a question ({type(exc).__name__}: {exc}); want "
                    '{"question": "...", "expected": ["lesson path", ...]}'
                ) from None
    return select_split(questions, split)


def _question(row: dict[str, Any], path: Path) -> EvalQuestion:
    expected = row["expected"]
    if not isinstance(row["question"], str) or not (
        isinstance(expected, list) and all(isinstance(lesson, str) for lesson in expected)
    ):
        raise TypeError("question must be text and expected a list of lesson paths")
    return EvalQuestion(
        text=row["question"],
        expected=tuple(row["expected"]),
        page=row.get("page"),
        previous=row.get("previous"),
        kind=row.get("kind", "out-of-scope" if not row["expected"] else ""),
        group=row.get("source") or row.get("id") or row["question"],
        author=row.get("author") or path.stem,
    )


def select_split(questions: Iterable[EvalQuestion], split: Split | None) -> list[EvalQuestion]:
    """The questions of ``split`` (all of them for None), in their order."""
    return [q for q in questions if split is None or q.split == split]

"""Learning from the questions students asked: ranking, coverage, and who learns what."""

from __future__ import annotations

import pytest

from robolearn.rag import (
    AskedIndex,
    Chunk,
    EvalQuestion,
    SearchConfig,
    SearchIndex,
    chunk_lessons,
    indexes_by_author,
)

from .test_search import CAMERA, LIDAR, SETUP, TOPICS, build_lessons


def asked(text: str, *lessons: str, author: str = "ana", page: str | None = None) -> EvalQuestion:
    return EvalQuestion(text, lessons, page=page, author=author)


BLIND = asked("my robot goes blind past a few metres, the sensor sees nothing further", LIDAR)
RECORD = asked("how do i record my topics into a bag file and replay them later")
BANK = (
    BLIND,
    asked("the sensor range stops after a couple of metres", LIDAR, author="ben"),
    asked("why is my picture so narrow", CAMERA, author="ben"),
    RECORD,
    # About the open page: means nothing without it, so it teaches nothing.
    asked("what does this sensor do", SETUP, page=SETUP, author="ben"),
)


@pytest.fixture(scope="module")
def chunks() -> list[Chunk]:
    return chunk_lessons(build_lessons())


def test_a_lessons_asked_questions_lift_it_for_words_its_text_lacks(chunks: list[Chunk]) -> None:
    question = "the sensor on my robot is blind past a few metres"
    plain = SearchIndex.build(chunks)
    learned = SearchIndex.build(chunks, asked=BANK)
    assert learned.search(question)[0].path == LIDAR
    plain_scores = {r.path: r.score for r in plain.search(question, limit=10)}
    learned_scores = {r.path: r.score for r in learned.search(question, limit=10)}
    assert learned_scores[LIDAR] > plain_scores[LIDAR]
    # Only lessons the question matched in the book are lifted: the bank finds none.
    assert learned_scores.keys() == plain_scores.keys()
    unlearned = SearchIndex.build(chunks, SearchConfig(asked_weight=0), asked=BANK)
    assert {r.path: r.score for r in unlearned.search(question, limit=10)} == plain_scores


def test_a_question_like_an_uncovered_one_is_not_covered(chunks: list[Chunk]) -> None:
    question = "how can i record topics to a file and replay them"
    # A threshold "topics" alone passes: only the asked questions can refuse it.
    lenient = SearchConfig(covered_threshold=0.05)
    assert SearchIndex.build(chunks, lenient).search_with_coverage(question).covered
    outcome = SearchIndex.build(chunks, lenient, asked=BANK).search_with_coverage(question)
    assert outcome.resemblance.unanswered > outcome.resemblance.answered + 0.1
    assert not outcome.covered
    assert outcome.results  # still ranked, for a real model to say what is near


def test_a_question_like_an_answered_one_is_covered_however_it_matches(
    chunks: list[Chunk],
) -> None:
    strict = SearchConfig(covered_threshold=0.99)
    question = "why is the picture so narrow"
    assert not SearchIndex.build(chunks, strict).search_with_coverage(question).covered
    outcome = SearchIndex.build(chunks, strict, asked=BANK).search_with_coverage(question)
    assert outcome.resemblance.answered >= strict.asked_covers
    assert outcome.covered
    assert outcome.results[0].path == CAMERA


def test_page_questions_and_follow_ups_teach_nothing(chunks: list[Chunk]) -> None:
    paths = [chunk.lesson_path for chunk in chunks]
    only_context = [
        asked("what does this sensor do", LIDAR, page=LIDAR),
        EvalQuestion("and the camera?", (CAMERA,), previous="what is a lidar"),
    ]
    assert AskedIndex.build(only_context, paths) is None


def test_a_bank_written_for_another_book_is_not_used(chunks: list[Chunk]) -> None:
    paths = list(dict.fromkeys(chunk.lesson_path for chunk in chunks))
    other_book = [asked(f"question {n}", f"other/{n}.md") for n in range(3)]
    assert AskedIndex.build([*other_book, asked("a lidar question", LIDAR)], paths) is None
    assert AskedIndex.build([*other_book[:1], BLIND, RECORD], paths) is not None
    assert AskedIndex.build([], paths) is None


def test_each_author_is_scored_by_a_search_that_never_saw_their_questions(
    chunks: list[Chunk],
) -> None:
    mine = asked(BLIND.text, LIDAR, author="ana")
    theirs = asked("how wide does my camera look", CAMERA, author="ben")
    indexes = indexes_by_author(chunks, SearchConfig(), [mine, theirs], BANK)
    assert indexes.keys() == {"ana", "ben"}
    # Ana's own question is in the bank, but not in the index that scores her.
    assert indexes["ana"].search_with_coverage(mine.text).resemblance.answered < 0.9
    assert indexes["ben"].search_with_coverage(mine.text).resemblance.answered == pytest.approx(1.0)
    # Without learning, one index serves everybody.
    plain = indexes_by_author(chunks, SearchConfig.plain_bm25(), [mine, theirs], BANK)
    assert plain["ana"] is plain["ben"]


def test_a_question_the_bank_knows_nothing_of_ranks_as_before(chunks: list[Chunk]) -> None:
    question = "how do I watch messages on a topic live?"
    learned = SearchIndex.build(chunks, asked=BANK).search(question, limit=10)
    plain = SearchIndex.build(chunks).search(question, limit=10)
    assert learned == plain
    assert learned[0].path == TOPICS

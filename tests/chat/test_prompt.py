"""The tutor's instructions for real models: citation, refusal, follow-up and shape rules.

A real model gets the same search tool as the offline tutor and these instructions; the
rules the offline tutor follows in code are written here for the model to follow.
"""

from __future__ import annotations

import pytest

from robolearn.chat import PageContext, UserInfo, search_tool
from robolearn.chat._answer import NOT_COVERED
from robolearn.chat._prompt import TUTOR_INSTRUCTIONS, build_instructions
from robolearn.rag import SearchIndex, chunk_lessons, demo_lessons


def test_answers_cite_lessons_as_markdown_links() -> None:
    assert "Search the book first and ground every answer in what it says." in TUTOR_INSTRUCTIONS
    assert "Cite the lessons you used as markdown links: [Lesson title](lesson URL)," in " ".join(
        TUTOR_INSTRUCTIONS.split()
    )


def test_sources_follow_the_search_ranking_and_name_close_results_as_related() -> None:
    text = " ".join(TUTOR_INSTRUCTIONS.split())
    assert "the others in the order the search ranked them" in text
    assert 'Under "Related lessons", link the other results that score close to the best' in text
    assert "(five lessons in all at most)" in text


def test_uncovered_questions_are_refused_with_the_phrase_the_eval_counts() -> None:
    # The eval counts an answer as a refusal when it starts with NOT_COVERED.
    assert f'say "{NOT_COVERED}"' in " ".join(TUTOR_INSTRUCTIONS.split())
    assert "clearly marked" in TUTOR_INSTRUCTIONS
    # The search tool's field for names the book never uses (SearchFindings.never_mentioned).
    assert 'The book never uses the words the search lists under "never_mentioned": say so' in (
        " ".join(TUTOR_INSTRUCTIONS.split())
    )


def test_follow_ups_continue_the_earlier_topic_and_lesson() -> None:
    text = " ".join(TUTOR_INSTRUCTIONS.split())
    assert "search for that topic, not for the follow-up's words alone" in text
    assert "stay with the lesson you answered from unless the student names something new" in text


def test_answers_lead_with_the_direct_answer_and_never_only_point_at_a_section() -> None:
    text = " ".join(TUTOR_INSTRUCTIONS.split())
    order = ["the direct answer", "supporting explanation", "runnable example", "as sources"]
    positions = [text.index(part) for part in order]
    assert positions == sorted(positions)
    assert "Never answer only by pointing at a section." in text


@pytest.mark.parametrize(
    ("user", "page"),
    [
        (None, None),
        (UserInfo(name="Ada", level="beginner"), None),
        (None, PageContext(title="Lesson 4.2: Writing a Publisher", path="a/b.md")),
    ],
)
def test_every_prompt_starts_with_the_rules(
    user: UserInfo | None, page: PageContext | None
) -> None:
    instructions = build_instructions(user, page)
    assert instructions.startswith(TUTOR_INSTRUCTIONS)
    assert ("Level: beginner" in instructions) == (user is not None)
    assert ("- Title: Lesson 4.2" in instructions) == (page is not None)


def test_the_search_tool_repeats_the_citation_and_follow_up_rules() -> None:
    index = SearchIndex.build(chunk_lessons(demo_lessons("https://robolearn.github.io")))
    description = search_tool(lambda: index).description
    assert "Cite the lessons you use as markdown links [title](url)." in description
    assert "`previous_question`" in description

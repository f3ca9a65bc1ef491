"""A short, cited, extractive answer composed from the search tool's findings (no I/O).

The offline tutor cannot write prose of its own, so it quotes: for the best lessons it
picks the passage sentences that share the most words with the question, frames them in
a sentence that names the lesson (and the page the reader has open), and ends with a
"Sources:" list of markdown links. Questions the book does not cover get an answer
starting "The book does not cover this" and no citations.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Final

from robolearn.rag import Sentence, analyze, analyze_query, code_blocks, prose_sentences

from ._tool import FoundLesson, SearchFindings

__all__ = ["NOT_COVERED", "compose_answer"]

NOT_COVERED: Final = "The book does not cover this"

_MAX_LESSONS = 3
# A lesson joins the answer only if it scores at least this share of the best one.
_RELATIVE_SCORE = 0.5
_MIN_FRAGMENT_WORDS = 7
_MAX_EXCERPT_WORDS = 55
# A complete prose sentence outranks a fragment sharing as many question words.
_COMPLETE_BONUS = 0.5
_MAX_CODE_LINES = 20
# Questions that want to see code; the best passage's short example is then shown.
_CODE_WORDS: Final = frozenset(
    {"code", "write", "writing", "example", "implement", "command", "commands"}
    | {"syntax", "snippet", "script", "program", "show"}
)


def compose_answer(question: str, findings: SearchFindings, *, reading: str | None = None) -> str:
    """The answer to ``question`` from ``findings``; ``reading`` is the open page's title."""
    if findings.error is not None:
        return (
            f"I couldn't search the book just now ({findings.error}). Please ask again in a moment."
        )
    if not findings.covered or not findings.results:
        return (
            f"{NOT_COVERED}. I searched the RoboLearn textbook and found no lesson about "
            f"“{_quoted(question)}”. I can help with what the book teaches: ROS 2, Gazebo "
            "simulation, NVIDIA Isaac Sim and vision-language-action models."
        )
    terms = set(analyze_query(question))
    points = _key_points(findings.results, terms)
    lessons = list(dict.fromkeys(lesson for lesson, _ in points))
    lines = [_framing(lessons, findings, reading), "", "Key points from the book:"]
    lines += [f"- **{lesson.title}**: {excerpt}" for lesson, excerpt in points]
    example = _code_example(question, findings.results[0])
    if example is not None:
        lines += ["", f"The example in *{findings.results[0].title}*:", "", example]
    lines += ["", "Sources:"]
    lines += [f"- [{lesson.title}]({lesson.url})" for lesson in lessons]
    return "\n".join(lines)


def _framing(lessons: Sequence[FoundLesson], findings: SearchFindings, reading: str | None) -> str:
    top = lessons[0]
    more = len(lessons) - 1
    also = f", with more in {more} related lesson{'s' if more > 1 else ''}" if more else ""
    page = findings.page
    if page is not None and page.url == top.url:
        return f"The lesson you're reading, *{top.title}*, covers this{also}."
    reading = page.title if page is not None else reading
    if reading:
        return f"You're reading *{reading}*; the book covers this in *{top.title}*{also}."
    return f"The book covers this in *{top.title}*{also}."


def _key_points(results: Sequence[FoundLesson], terms: set[str]) -> list[tuple[FoundLesson, str]]:
    """Two to four ``(lesson, excerpt)`` pairs, the best lesson first."""
    top = results[0]
    # The best lesson is always quoted, even when no sentence shares a word with the
    # question ("explain this example"): the ranking knows better than word overlap.
    points = [(top, excerpt) for excerpt in _excerpts(top, terms, wanted=2) or _opening(top)]
    for rank, lesson in enumerate(results[1:], 1):
        # Other lessons only with a sentence on the question's words (worth quoting), and
        # only if they score close to the best one, unless the answer is still thin.
        enough = len(points) >= 2
        if enough and (rank >= _MAX_LESSONS or lesson.score < _RELATIVE_SCORE * top.score):
            break
        points += [(lesson, excerpt) for excerpt in _excerpts(lesson, terms, wanted=1)]
    return points[:4]


def _excerpts(lesson: FoundLesson, terms: set[str], *, wanted: int) -> list[str]:
    """Up to ``wanted`` excerpts of ``lesson``'s passage that share words with the question."""
    sentences = _usable(prose_sentences(lesson.text))
    scored = []
    for index, sentence in enumerate(sentences):
        overlap = len(terms & set(analyze(sentence.text)))
        if overlap:
            complete = sentence.is_complete and not sentence.in_list
            scored.append((overlap + (_COMPLETE_BONUS if complete else 0.0), index))
    ranked = sorted(scored, key=lambda x: (-x[0], x[1]))
    chosen: list[int] = []
    for _, index in ranked:
        # A second excerpt must not repeat the first one's sentence pair.
        if all(abs(index - other) > 1 for other in chosen):
            chosen.append(index)
        if len(chosen) == wanted:
            break
    return [_with_next(sentences, index) for index in sorted(chosen)]


def _opening(lesson: FoundLesson) -> list[str]:
    sentences = _usable(prose_sentences(lesson.text))
    if sentences:
        first = next((i for i, s in enumerate(sentences) if s.is_complete), 0)
        return [_with_next(sentences, first)]
    # All code or tables: point at the section rather than paste raw Markdown.
    where = f"the section “{lesson.heading}”" if lesson.heading else "this lesson"
    return [f"{where} walks through it with an example."]


def _code_example(question: str, lesson: FoundLesson) -> str | None:
    """The passage's longest short, complete code block, if the question asks for code."""
    if _CODE_WORDS.isdisjoint(question.casefold().replace("?", " ").split()):
        return None
    candidates = []
    for block in code_blocks(lesson.text):
        lines = block.splitlines()
        # Excerpts are cut at a length, which can leave a fence unclosed.
        closed = len(lines) > 2 and lines[-1].strip()[:3] == lines[0].strip()[:3]
        if closed and len(lines) <= _MAX_CODE_LINES + 2:
            candidates.append(block)
    return max(candidates, key=lambda block: block.count("\n"), default=None)


def _usable(sentences: Sequence[Sentence]) -> list[Sentence]:
    # Labels ("Problems:", "1. ROS 2 → Gazebo"), short fragments and lead-ins to code or
    # lists read badly on their own.
    return [
        sentence
        for sentence in sentences
        if not sentence.text.endswith(":")
        and (sentence.is_complete or len(sentence.text.split()) >= _MIN_FRAGMENT_WORDS)
    ]


def _with_next(sentences: Sequence[Sentence], index: int) -> str:
    """The sentence, plus the next one from the same paragraph when both are short."""
    text = sentences[index].text
    if index + 1 < len(sentences):
        following = sentences[index + 1]
        combined = f"{text} {following.text}"
        if following.block == sentences[index].block and len(combined.split()) <= 40:
            text = combined
    return _clip(text)


def _clip(text: str) -> str:
    words = text.split()
    if len(words) <= _MAX_EXCERPT_WORDS:
        return " ".join(words)
    return " ".join(words[:_MAX_EXCERPT_WORDS]) + " …"


def _quoted(question: str) -> str:
    text = " ".join(question.split())
    return text if len(text) <= 120 else text[:119].rstrip() + "…"

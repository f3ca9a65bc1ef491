"""A short, cited, extractive answer composed from the search tool's findings (no I/O).

The offline tutor cannot write prose of its own, so it quotes, in the order a student
reads best:

1. a direct lead: the book's definition of what a "what is X" / "X vs Y" question asks
   about, the numbered steps a "how do I" question asks for, the sentence saying why for a
   "why", or, asked "more simply", the book's plainest sentences (analogies, short ones);
2. the supporting passages, introduced by a sentence naming the lesson (and the page the
   reader has open);
3. the lesson's short code example, when the student asks for code or an example;
4. a "Sources:" list of markdown links to the lessons quoted: the one the lead quotes
   first, then the best one, the others in the search's order;
5. "Related lessons:", the next-ranked lessons not quoted that score close to the best
   one (up to five lessons in all): the search ranks them nearly as relevant even when
   none of their sentences shares the question's words.

Questions the book does not cover get an answer starting "The book does not cover this"
and no citations.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import attrs

from robolearn.rag import (
    Sentence,
    analyze,
    analyze_query,
    code_blocks,
    command_steps,
    prose_sentences,
)

from ._explain import best_definition, numbered_steps, plainness, reason_strength
from ._question import Ask
from ._tool import FoundLesson, SearchFindings

__all__ = ["NOT_COVERED", "compose_answer"]

NOT_COVERED: Final = "The book does not cover this"

_MAX_LESSONS = 3
# Sources plus related lessons: as many as the search returns by default, so an answer
# cites every lesson the search ranks in its first five when it scores close to the best.
# A related lesson scores at least this share of the best one: on the fresh dev split any
# share up to 0.55 cites every expected lesson the search ranks in its first five, 0.6+
# drops one; 0.5 leaves room on unseen questions (benchmarks/eval/RESULTS.md).
_MAX_SOURCES = 5
_RELATED_SCORE = 0.5
# A lesson joins the answer only if it scores at least this share of the best one.
_RELATIVE_SCORE = 0.5
_MIN_FRAGMENT_WORDS = 7
_MAX_EXCERPT_WORDS = 55
# A complete prose sentence outranks a fragment sharing as many question words.
_COMPLETE_BONUS = 0.5
_MAX_CODE_LINES = 20
# A later lesson's definition must beat the first one's by this much per rank to lead; a
# follow-up stays with the lesson that answered unless it has no definition at all.
_RANK_COST = 0.25
_FOLLOW_UP_RANK_COST = 1.0
_MAX_COMMAND_LINES = 3
_MAX_STEPS = 7
_MAX_SHORT_ITEMS = 5
_CUT_NOTE = "# … (the rest is in the lesson)"
_SHELLS: Final = frozenset({"bash", "sh", "shell", "console", "zsh", "powershell", "cmd"})
_PLAIN_LEAD_WORDS = 45
_NAVIGATION: Final = re.compile(r"\W*(?:next|previous|up next)\b[^:]{0,20}:", re.IGNORECASE)


@attrs.frozen
class _Lead:
    """The answer's opening paragraph and the lessons it quotes."""

    text: str
    lessons: tuple[FoundLesson, ...]
    quoted: frozenset[str]


@attrs.frozen
class _Reading:
    """How to read the passages for one question.

    ``terms`` are the resolved question's (a follow-up's earlier topic included), ``own``
    the message's own, which count extra: after "how do I run it?", a sentence about
    running beats one that only names the topic. ``said`` is the tutor's earlier answers.
    """

    ask: Ask
    terms: frozenset[str]
    own: frozenset[str]
    said: str

    @classmethod
    def of(cls, ask: Ask, said: str) -> _Reading:
        return cls(
            ask,
            frozenset(analyze_query(ask.search_query)),
            frozenset(analyze_query(ask.text)),
            said,
        )

    def relevance(self, sentence: Sentence) -> float:
        """Question words in ``sentence``, the message's own ones counting one and a half."""
        return self.overlap(sentence)[1]

    def overlap(self, sentence: Sentence) -> tuple[int, float]:
        """How many of the question's words ``sentence`` has, and its :meth:`relevance`."""
        found = set(analyze(sentence.text))
        shared = len(self.terms & found)
        return shared, shared + 0.5 * len(self.own & found)

    def sentences(self, lesson: FoundLesson) -> list[Sentence]:
        """The passage's quotable sentences, without those already said in the thread
        (unless that leaves none)."""
        usable = _usable(prose_sentences(lesson.text))
        fresh = [sentence for sentence in usable if not self.was_said(sentence.text)]
        return fresh or usable

    def was_said(self, text: str) -> bool:
        return bool(self.said) and text in self.said


def compose_answer(
    question: str | Ask,
    findings: SearchFindings,
    *,
    reading: str | None = None,
    said: str = "",
) -> str:
    """The answer to ``question`` from ``findings``; ``reading`` is the open page's title.

    ``question`` is the student's message, or an :class:`Ask` resolved against the
    conversation (its follow-ups then answer about the earlier topic). ``said`` is what
    the tutor answered before in the thread: a follow-up quotes other sentences when the
    book has them, rather than repeat itself.
    """
    ask = question if isinstance(question, Ask) else Ask(question)
    if findings.error is not None:
        return (
            f"I couldn't search the book just now ({findings.error}). Please ask again in a moment."
        )
    unknown = " or ".join(f"*{name}*" for name in findings.never_mentioned)
    if not findings.covered or not findings.results:
        return (
            f"{NOT_COVERED}. I searched the RoboLearn textbook and found no lesson about "
            f"“{_quoted(ask.text)}”"
            + (f"; it never mentions {unknown}" if unknown else "")
            + ". I can help with what the book teaches: ROS 2, Gazebo simulation, NVIDIA "
            "Isaac Sim and vision-language-action models."
        )
    read = _Reading.of(ask, said)
    lead = _lead(read, findings.results)
    points = _key_points(read, findings.results, lead.quoted if lead else frozenset())
    top = findings.results[0]
    quoted_top = (lead is not None and top in lead.lessons) or any(
        lesson == top for lesson, _ in points
    )
    # Unasked, code is shown only for a best lesson the answer could not quote otherwise.
    example = _code_example(ask, findings.results, top_quoted=quoted_top)
    used = {
        top,  # always cited, even when another lesson had the sentence quoted first
        *(lead.lessons if lead else ()),
        *(lesson for lesson, _ in points),
        *([example[0]] if example else []),
    }
    lessons = _sources(used, findings.results)
    related = _related(lessons, findings.results)
    lines = [lead.text, ""] if lead else []
    lines.append(_framing(lessons, findings, reading))
    if unknown:
        # Answered anyway (the rest of the question matches the book well): say what is not.
        lines[-1] += f" It never mentions {unknown}."
    if points:
        lines += ["", "Key points from the book:"]
        lines += [f"- **{lesson.title}**: {excerpt}" for lesson, excerpt in points]
    if example is not None:
        lines += ["", f"The example in *{example[0].title}*:", "", example[1]]
    lines += ["", "Sources:"]
    lines += [f"- [{lesson.title}]({lesson.url})" for lesson in lessons]
    if related:
        lines += ["", "Related lessons:"]
        lines += [f"- [{lesson.title}]({lesson.url})" for lesson in related]
    return "\n".join(lines)


def _sources(used: set[FoundLesson], results: Sequence[FoundLesson]) -> list[FoundLesson]:
    """The lessons the answer quotes, in the search's order: a student reads the first
    source as the most relevant, and the ranking judges that better than which lesson
    happened to hold the sentence quoted first."""
    return [lesson for lesson in results if lesson in used]


def _related(cited: Sequence[FoundLesson], results: Sequence[FoundLesson]) -> list[FoundLesson]:
    """The next-ranked lessons the answer did not quote, while they score close to the best
    one and the answer names at most ``_MAX_SOURCES`` lessons: a sentence of theirs may not
    share the question's words, yet the search found them nearly as relevant."""
    best = max((lesson.score for lesson in results), default=0.0)
    room = _MAX_SOURCES - len(cited)
    close = [
        lesson
        for lesson in results
        if lesson not in cited and lesson.score >= _RELATED_SCORE * best
    ]
    return close[: max(room, 0)]


def _lead(read: _Reading, results: Sequence[FoundLesson]) -> _Lead | None:
    """The direct answer: why, the steps, plain words or a definition, in that priority."""
    ask, top = read.ask, results[0]
    if ask.wants_reason:
        reason = _reason(read, results)
        if reason is not None:
            text, lesson = reason
            return _Lead(f"**Why:** {_clip(text)}", (lesson,), frozenset({text}))
    if ask.wants_steps and not ask.wants_simple:
        # Commands to type are no answer to "how do I do that in code?".
        steps = _steps(top, shell=not ask.wants_program)
        if steps:
            numbered = "\n".join(f"{n}. {step}" for n, step in enumerate(steps, 1))
            return _Lead(f"**Steps** (from *{top.title}*):\n\n{numbered}", (top,), frozenset(steps))
    definitions = _definitions(read, results, plain=ask.wants_simple)
    if ask.wants_simple:
        plain = _plain(read, definitions, results)
        if plain:
            return _Lead(
                "**Put simply:** " + " ".join(_clip(text) for text, _ in plain),
                tuple(dict.fromkeys(lesson for _, lesson in plain)),
                frozenset(text for text, _ in plain),
            )
    # A follow-up was given the definition already; it asked for something else.
    if not definitions or ask.continues_answer:
        return None
    if len(definitions) == 1:
        ((text, lesson),) = definitions.values()
        return _Lead(f"**In short:** {_clip(text)}", (lesson,), frozenset({text}))
    bullets = [
        f"- **{subject}**: {_clip(_unlabelled(text, subject))}"
        for subject, (text, _) in definitions.items()
    ]
    return _Lead(
        "**In short:**\n" + "\n".join(bullets),
        tuple(dict.fromkeys(lesson for _, lesson in definitions.values())),
        frozenset(text for text, _ in definitions.values()),
    )


def _unlabelled(text: str, subject: str) -> str:
    """``text`` without a leading label naming ``subject`` ("Topic: News broadcast ..."),
    which its bullet already names."""
    label, colon, rest = text.partition(":")
    rest = rest.strip()
    if colon and rest and analyze(label) == analyze(subject):
        return rest[0].upper() + rest[1:]
    return text


def _steps(lesson: FoundLesson, *, shell: bool = True) -> list[str]:
    """The passage's numbered list, or else (with ``shell``) its shell commands with
    their lead-ins."""
    numbered = numbered_steps(prose_sentences(lesson.text))
    if numbered:
        return [_clip(step) for step in numbered]
    if not shell:
        return []
    steps = []
    for step in command_steps(lesson.text)[:_MAX_STEPS]:
        if len(step.commands) > _MAX_COMMAND_LINES:
            commands = f"`{step.commands[0]}` … (the full script is in the lesson)"
        else:
            commands = " then ".join(f"`{command}`" for command in step.commands)
        steps.append(f"{step.label}: {commands}" if step.label else commands)
    return steps


def _definitions(
    read: _Reading, results: Sequence[FoundLesson], *, plain: bool
) -> dict[str, tuple[str, FoundLesson]]:
    """Each subject's best definition among the results (the tool found them lesson-wide):
    an analogy if ``plain`` and the book has one, else any; one not said before if any."""
    chosen: dict[str, tuple[str, FoundLesson]] = {}
    follow_up = read.ask.topic is not None
    rank_cost = _FOLLOW_UP_RANK_COST if follow_up else _RANK_COST
    # A follow-up does not repeat the definition it was given; a new question may.
    tries = [(plain, True), (None, True)] + ([] if follow_up else [(None, False)])
    for subject in read.ask.subjects:
        best: tuple[float, str, FoundLesson] | None = None
        for kind, fresh in tries:
            for rank, lesson in enumerate(results):
                candidates = [Sentence(text, 0) for text in lesson.definitions]
                candidates += prose_sentences(lesson.text)
                if fresh:
                    candidates = [c for c in candidates if not read.was_said(c.text)]
                found = best_definition(
                    candidates, subject, context=read.ask.search_query, plain=kind
                )
                if found is not None:
                    score = found.score - rank_cost * rank
                    if best is None or score > best[0]:
                        best = (score, found.text, lesson)
            if best is not None:
                break
        if best is not None and all(best[1] != text for text, _ in chosen.values()):
            chosen[subject] = (best[1], best[2])
    return chosen


def _plain(
    read: _Reading, definitions: dict[str, tuple[str, FoundLesson]], results: Sequence[FoundLesson]
) -> list[tuple[str, FoundLesson]]:
    """The plainest sentences on the question's words, analogies and short ones first,
    the best lesson's before the others', up to a short paragraph; definitions come first,
    then reading order."""
    candidates = [
        (plainness(Sentence(text, 0)) + 0.5, -1, -1, text, lesson)
        for text, lesson in definitions.values()
    ]
    # About the thing asked: naming its first word when it is known ("VLA" of "VLA model";
    # "Fuel models have complex meshes" is not plainer words for it).
    heads = {analyze(subject)[0] for subject in read.ask.subjects if analyze(subject)}
    candidates += [
        (plainness(sentence) - _RANK_COST * rank, rank, index, sentence.text, lesson)
        for rank, lesson in enumerate(results[:_MAX_LESSONS])
        for index, sentence in enumerate(read.sentences(lesson))
        if sentence.is_complete
        and read.relevance(sentence)
        and (not heads or heads & set(analyze(sentence.text)))
    ]
    picked: list[tuple[int, int, str, FoundLesson]] = []
    words = 0
    for score, rank, index, text, lesson in sorted(candidates, key=lambda c: (-c[0], c[1], c[2])):
        size = len(text.split())
        if score <= -0.5 or words + size > _PLAIN_LEAD_WORDS or len(picked) == 3:
            continue
        # A definition carries its next sentence: that one alone would repeat it.
        if all(text not in other and other not in text for _, _, other, _ in picked):
            picked.append((rank, index, text, lesson))
            words += size
    return [(text, lesson) for _, _, text, lesson in sorted(picked, key=lambda p: p[:2])]


def _reason(read: _Reading, results: Sequence[FoundLesson]) -> tuple[str, FoundLesson] | None:
    """The passages' complete sentence that best says why, on the question's words."""
    scored = [
        (
            reason_strength(sentence) + 0.5 * read.relevance(sentence) - _RANK_COST * rank,
            -index,
            sentence.text,
            lesson,
        )
        for rank, lesson in enumerate(results[:_MAX_LESSONS])
        for index, sentence in enumerate(read.sentences(lesson))
        if reason_strength(sentence) and sentence.is_complete
    ]
    if not scored:
        return None
    best = max(scored, key=lambda item: (item[0], item[1]))
    return best[2], best[3]


def _framing(lessons: Sequence[FoundLesson], findings: SearchFindings, reading: str | None) -> str:
    top = lessons[0]
    more = len(lessons) - 1
    also = f", with more from {more} other lesson{'s' if more > 1 else ''}" if more else ""
    page = findings.page
    if page is not None and page.url == top.url:
        return f"The lesson you're reading, *{top.title}*, covers this{also}."
    reading = page.title if page is not None else reading
    if reading:
        return f"You're reading *{reading}*; the book covers this in *{top.title}*{also}."
    return f"The book covers this in *{top.title}*{also}."


def _key_points(
    read: _Reading, results: Sequence[FoundLesson], quoted: frozenset[str]
) -> list[tuple[FoundLesson, str]]:
    """Up to four ``(lesson, excerpt)`` pairs, the best lesson first (two, asked simply),
    none repeating a sentence the lead ``quoted``."""

    def new(excerpts: list[str]) -> list[str]:
        return [text for text in excerpts if not any(sentence in text for sentence in quoted)]

    top = results[0]
    # The best lesson is always quoted, even when no sentence shares a word with the
    # question ("explain this example"): the ranking knows better than word overlap.
    # A passage with no prose to quote (a list of names, a table) still has the lesson's
    # definitions, found lesson-wide by the search tool.
    quotes = (
        _excerpts(read, top, wanted=2)
        or _opening(read, top)
        or [text for text in top.definitions if not read.was_said(text)][:1]
        or _short_items(top)
    )
    points = [(top, _clip(excerpt)) for excerpt in new(quotes)]
    for rank, lesson in enumerate(results[1:], 1):
        # Other lessons only with a sentence on the question's words (worth quoting), and
        # only if they score close to the best one, unless the answer is still thin.
        enough = len(points) >= 2
        if enough and (rank >= _MAX_LESSONS or lesson.score < _RELATIVE_SCORE * top.score):
            break
        # Comparing two things, a sentence on either one is worth quoting.
        least = 1 if len(read.ask.subjects) > 1 else min(2, len(read.terms))
        excerpts = _excerpts(read, lesson, wanted=1, least=least)
        points += [(lesson, excerpt) for excerpt in new(excerpts)]
    return points[: 2 if read.ask.wants_simple else 4]


def _excerpts(read: _Reading, lesson: FoundLesson, *, wanted: int, least: int = 1) -> list[str]:
    """Up to ``wanted`` excerpts of ``lesson``'s passage that share at least ``least`` words
    with the question; asked simply, plain sentences first.

    Another lesson than the best one is quoted only for a sentence with two of the
    question's words (one, comparing two things): one shared word ("model", asked what a
    VLA model is) quotes a sentence about something else.
    """
    sentences = read.sentences(lesson)
    scored = []
    for index, sentence in enumerate(sentences):
        shared, relevance = read.overlap(sentence)
        if shared < least:
            continue
        if relevance:
            complete = sentence.is_complete and not sentence.in_list
            score = relevance + (_COMPLETE_BONUS if complete else 0.0)
            scored.append((score + (plainness(sentence) if read.ask.wants_simple else 0.0), index))
    ranked = sorted(scored, key=lambda x: (-x[0], x[1]))
    chosen: list[int] = []
    for _, index in ranked:
        # A second excerpt must not repeat the first one's sentence pair.
        if all(abs(index - other) > 1 for other in chosen):
            chosen.append(index)
        if len(chosen) == wanted:
            break
    return [_with_next(sentences, index) for index in sorted(chosen)]


def _short_items(lesson: FoundLesson) -> list[str]:
    """A passage that is a list of short items ("OpenVLA (Berkeley) — open-source ..."),
    as one excerpt: too short to quote one by one, they still say what the lesson has."""
    items = [s.text for s in prose_sentences(lesson.text) if s.in_list and len(s.text) > 3]
    return ["; ".join(items[:_MAX_SHORT_ITEMS])] if items else []


def _opening(read: _Reading, lesson: FoundLesson) -> list[str]:
    """The passage's first sentences; nothing when it is all code or tables (the answer
    then shows the code rather than a sentence about it)."""
    sentences = read.sentences(lesson)
    if not sentences:
        return []
    first = next((i for i, s in enumerate(sentences) if s.is_complete), 0)
    return [_with_next(sentences, first)]


def _code_example(
    ask: Ask, results: Sequence[FoundLesson], *, top_quoted: bool
) -> tuple[FoundLesson, str] | None:
    """A code block when the student asks for code or an example (the best of the first
    lessons' passages: about the subject, real code, whole, from the better lesson), or the
    best lesson's own when its passage is all code (nothing of it quoted)."""
    if top_quoted and not ask.wants_code:
        return None
    lessons = results[:_MAX_LESSONS] if top_quoted else results[:1]
    names = [word for subject in ask.subjects for word in subject.casefold().split()]
    candidates = []
    for rank, lesson in enumerate(lessons):
        for block in _code_in(lesson):
            tagged = block.splitlines()[0].strip().strip("`~") != ""
            whole = _CUT_NOTE not in block
            on_subject = any(name in block.casefold() for name in names)
            program = not ask.wants_program or not _is_shell(block)
            key = (on_subject, program, tagged, whole, -rank, block.count("\n"))
            candidates.append((key, lesson, block))
    if not candidates:
        return None
    _, lesson, block = max(candidates, key=lambda candidate: candidate[0])
    return lesson, block


def _is_shell(block: str) -> bool:
    """Whether a fenced block is commands to type (its fence says a shell)."""
    return block.splitlines()[0].strip().strip("`~").strip().casefold() in _SHELLS


def _code_in(lesson: FoundLesson) -> list[str]:
    """The passage's code blocks, those over ``_MAX_CODE_LINES`` lines cut there."""
    blocks = []
    for block in code_blocks(lesson.text):
        lines = block.splitlines()
        fence = lines[0].strip()[:3]
        # Excerpts are cut at a length, which can leave a fence unclosed.
        closed = len(lines) > 2 and lines[-1].strip()[:3] == fence
        if closed and len(lines) <= _MAX_CODE_LINES + 2:
            blocks.append(block)
        elif len(lines) > 2:
            # Without its fence the last line is where the excerpt was cut: maybe mid-word.
            body = lines[1:-1]
            blocks.append("\n".join([lines[0], *body[:_MAX_CODE_LINES], _CUT_NOTE, fence]))
    return blocks


def _usable(sentences: Sequence[Sentence]) -> list[Sentence]:
    # Labels ("Problems:", "1. ROS 2 → Gazebo"), short fragments and lead-ins to code or
    # lists read badly on their own. The book's own questions ("When would you use
    # wait_for_service()?") are exercises or set-ups, and its pointers to the next lesson
    # ("Next lesson: Custom message types.") are navigation: quoted, they answer nothing.
    return [
        sentence
        for sentence in sentences
        if not sentence.text.endswith((":", "?"))
        and not _NAVIGATION.match(sentence.text)
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

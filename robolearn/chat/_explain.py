"""Picking the book's sentences that explain: definitions, plain ones, reasons, steps.

All pure functions over :class:`robolearn.rag.Sentence` lists. A *definition* of a subject
("VLA model") is a sentence whose grammatical subject is that thing: "A node is an
independent process ...", "VLA models (Vision-Language-Action) represent ...", a glossary
line "Node: the base class ...", or "... a digital twin—a virtual replica of ...".
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Final

import attrs

from robolearn.rag import Sentence, analyze, prose_sentences

__all__ = [
    "Definition",
    "best_definition",
    "defining_sentences",
    "numbered_steps",
    "plainness",
    "reason_strength",
]

# "<term> is/are/refers to/... <the rest>": the term is what the sentence defines.
_COPULA: Final = re.compile(
    r"^(?P<term>[^.:;!?]{1,80}?)\s+(?P<verb>is|are|refers to|means|represents?|stands for)"
    r"\s+(?P<rest>\S.*)$"
)
_GLOSSARY: Final = re.compile(r"^(?P<term>[^:;.!?]{1,50}):\s+(?P<rest>\S.*)$")
# "Think of a URDF file as a blueprint.": a definition in plain words.
_THINK_OF: Final = re.compile(
    r"^(?:think of|imagine)\s+(?P<term>.{1,60}?)\s+as\s+(?P<rest>\S.*)$", re.I
)
# "engineers create a digital twin—a virtual replica of the robot ...": the subject, named
# with an article right before the dash, is restated in plain words after it.
_DASH: Final = re.compile(
    r"\b(?:a|an|the)\s+(?P<term>[^\u2014\u2013,;:.]{1,60}?)\s*[\u2014\u2013]\s*(?:a|an|the)\s+\S"
)
# "is running", "is like": a state or a comparison, not what the thing is.
_PARTICIPLE: Final = re.compile(r"^(?:\w+ing|being|not)\b", re.I)
_LIKE: Final = re.compile(r"^(?:like|just like|similar to)\b", re.I)
# The next sentence of the paragraph joins a definition when it goes on about the same
# thing ("They combine ...", "Think of it as a program.").
_CONTINUES: Final = re.compile(r"^(?:it|they|this|these|think of|in other words|that is)\b", re.I)
_MAX_DEFINITION_WORDS = 45
# "A digital twin is a concept.": too little said to lead an answer.
_MIN_REST_WORDS = 3
_PARENTHESES: Final = re.compile(r"\([^)]*\)")
# A term with these is a task, a question or a clause ("Explain what URDF is", "While a
# node is running"), not a subject.
_NOT_A_TERM: Final = frozenset(
    {"what", "how", "why", "which", "who", "when", "where", "explain", "describe", "if"}
    | {"while", "once", "after", "before", "since", "until", "because", "unless", "whether"}
    | {"it", "its", "this", "that", "these", "those", "their", "they", "your", "our", "my"}
)
_TERM_WORD: Final = re.compile(r"[^\W_]+")
# "Node A: publishes ...": a name in an example, not a glossary entry.
_LABEL: Final = re.compile(r"\s[A-Z0-9]$")
_MAX_DEFINED_WORDS = 6
_MIN_DEFINITION_WORDS = 4
# Extra words in the defined term ("A ROS 2 node" for "node") cost this much each.
_EXTRA_TERM_COST = 0.5

# Plain explanations: analogies and everyday framings read best to a beginner.
_ANALOGY: Final = re.compile(
    r"\b(?:think of|like a|like an|like making|imagine|in other words|simply|just like|"
    r"for example|e\.g\.|similar to|is like|are like|analogy)\b",
    re.I,
)
_PLAIN_WORDS = 22
_REASON_MARKERS: Final = re.compile(
    r"\b(?:because|so that|that's why|this is why|which is why|matters?|important|without|"
    r"otherwise|lets you|allows?|enables?|so you can|instead of|the reason|critical|"
    r"essential|benefit|advantage|problem|risk)\b",
    re.I,
)


@attrs.frozen
class Definition:
    """A sentence defining ``subject`` (with the next one when it goes on about it);
    ``plain`` marks an analogy ("Think of X as ..."); higher ``score``, closer match."""

    subject: str
    text: str
    score: float
    plain: bool = False


def best_definition(
    sentences: Sequence[Sentence],
    subject: str,
    *,
    context: str = "",
    plain: bool | None = None,
    min_score: float = 0.7,
) -> Definition | None:
    """The sentence of ``sentences`` that best defines ``subject``, if one does;
    ``plain`` True keeps only analogies, False only the others, None either.

    The defined term must name the subject's first word ("VLA" of "VLA model": "Their
    models are reliable" does not define it); words of the question ``context`` may
    qualify it for free ("A ROS 2 node is ..." for "what is a node in ROS 2?").
    """
    wanted = analyze(subject)
    if not wanted:
        return None
    term = _Term(frozenset(wanted), wanted[0], frozenset(analyze(context)))
    best: tuple[float, int, bool] | None = None
    for index, sentence in enumerate(sentences):
        for score, is_plain in _definition_scores(sentence.text, term):
            if plain is not None and is_plain != plain:
                continue
            if score >= min_score and (best is None or score > best[0]):
                best = (score, index, is_plain)
    if best is None:
        return None
    score, index, is_plain = best
    return Definition(subject, _with_continuation(sentences, index), score, is_plain)


def defining_sentences(
    passages: Sequence[str], subjects: Sequence[str], *, context: str = ""
) -> tuple[str, ...]:
    """For each subject, the sentences of ``passages`` (Markdown) that best define it: a
    formal definition and an analogy, when the passages have them; ``context`` is the
    question (see :func:`best_definition`)."""
    found: list[str] = []
    for subject in subjects:
        # Splitting prose is the costly part: only passages that name the subject.
        names = [word for word in _TERM_WORD.findall(subject.casefold()) if len(word) > 2]
        sentences = [
            sentence
            for passage in passages
            if all(name in passage.casefold() for name in names or [subject.casefold()])
            for sentence in prose_sentences(passage)
        ]
        for plain in (False, True):
            definition = best_definition(sentences, subject, context=context, plain=plain)
            if definition is not None and definition.text not in found:
                found.append(definition.text)
    return tuple(found)


@attrs.frozen
class _Term:
    """What a definition must name: the subject's terms, its first one, free qualifiers."""

    wanted: frozenset[str]
    head: str
    free: frozenset[str]


def _definition_scores(text: str, wanted: _Term) -> list[tuple[float, bool]]:
    """``(score, plain)`` for each way ``text`` could define the ``wanted`` term."""
    if text.endswith(("?", ":")) or len(text.split()) < _MIN_DEFINITION_WORDS:
        return []
    scores: list[tuple[float | None, bool]] = []
    copula = _COPULA.match(text)
    if (
        copula is not None
        and not _PARTICIPLE.match(copula["rest"])
        and len(copula["rest"].split()) >= _MIN_REST_WORDS
    ):
        like = _LIKE.match(copula["rest"]) is not None
        scores.append((_term_score(copula["term"], wanted, 0.2), like))
    glossary = _GLOSSARY.match(text)
    if glossary is not None:
        scores.append((_term_score(glossary["term"], wanted, 0.0), False))
    think = _THINK_OF.match(text)
    if think is not None:
        scores.append((_term_score(think["term"], wanted, 0.2), True))
    dash = _DASH.search(text)
    if dash is not None and set(analyze(dash["term"])) == wanted.wanted:
        scores.append((_term_score(dash["term"], wanted, 0.0), True))
    return [(score, plain) for score, plain in scores if score is not None]


def _with_continuation(sentences: Sequence[Sentence], index: int) -> str:
    text = sentences[index].text
    if index + 1 < len(sentences):
        following = sentences[index + 1]
        joined = f"{text} {following.text}"
        if (
            following.block == sentences[index].block
            and _CONTINUES.match(following.text)
            and len(joined.split()) <= _MAX_DEFINITION_WORDS
        ):
            return joined
    return text


def _term_score(term: str, wanted: _Term, bonus: float) -> float | None:
    term = _PARENTHESES.sub(" ", term).strip()
    if _LABEL.search(term):
        return None
    term_words = _TERM_WORD.findall(term.casefold())
    if not term_words or len(term_words) > _MAX_DEFINED_WORDS:
        return None
    if not _NOT_A_TERM.isdisjoint(term_words):
        return None
    terms = set(analyze(term))
    if wanted.head not in terms:
        return None
    shared = len(terms & wanted.wanted)
    extra = len(terms - wanted.wanted - wanted.free)
    return shared / len(wanted.wanted) - _EXTRA_TERM_COST * extra + bonus


def plainness(sentence: Sentence) -> float:
    """How plainly ``sentence`` reads: analogies and short sentences score higher."""
    size = len(sentence.text.split())
    score = 1.0 if _ANALOGY.search(sentence.text) else 0.0
    score -= max(0, size - _PLAIN_WORDS) / _PLAIN_WORDS
    # Inline code and parentheses are the opposite of plain.
    score -= 0.3 * sentence.text.count("`") / 2 + 0.2 * sentence.text.count("(")
    return score


def reason_strength(sentence: Sentence) -> int:
    """How many reason markers ("because", "so that", "matters") ``sentence`` has."""
    return len(_REASON_MARKERS.findall(sentence.text))


def numbered_steps(sentences: Sequence[Sentence], *, limit: int = 7) -> list[str]:
    """The items of the first numbered list of two or more in ``sentences``, in order.

    Bullets nested in the list do not end it; a paragraph does.
    """
    runs: list[list[str]] = [[]]
    last_block = -1
    for sentence in sentences:
        if sentence.numbered:
            if sentence.block == last_block:
                runs[-1][-1] += " " + sentence.text
            else:
                runs[-1].append(sentence.text)
            last_block = sentence.block
        elif not sentence.in_list and runs[-1]:
            runs.append([])
    return next((run[:limit] for run in runs if len(run) >= 2), [])

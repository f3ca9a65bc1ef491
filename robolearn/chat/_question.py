"""What a student's message asks for, and which earlier question it follows up on.

The offline tutor reads a message for its shape (what is X? how do I ...? why? more
simply, an example, code) and, when the message leans on the conversation ("explain that
more simply", "and on Windows?"), for the topic it continues. The resolution goes into the
search tool call, where a real model puts its own: a message that names no topic of its
own is searched as the earlier topic (its manner words, "simply", "example", "matter",
would only pull the search towards other lessons and make the book look as if it did not
cover the question); one that names a new thing but still points back ("what about a
laser scanner, is it the same?") is searched as itself, with the earlier question as
``previous_question`` (weighed lower by the search).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from typing import Any, Final, cast

import attrs
from agents.items import TResponseInputItem

from robolearn.rag import analyze, analyze_query

from ._text_model import last_user_text

__all__ = ["Ask", "resolve", "subjects_of"]

# Words a follow-up uses to say *how* to answer, not what about: a message made only of
# these (after stopwords and filler) names no topic and continues the earlier one.
_MANNER_TERMS: Final = frozenset(
    analyze(
        "simply simple simpler simplest plain plainly easy easier example examples show "
        "code snippet detail details elaborate again clarify short shorter summary "
        "summarize different differently another way words basic basics bit more "
        "matter matters important point why sure sorry lost confused confusing step "
        "steps do done use"
    )
)
# What a student does with the thing just explained ("how do I run it?"): a follow-up made
# of these and manner words stays in the lesson that explained it.
_ACTION_TERMS: Final = frozenset(
    analyze(
        "run running start starting install installing test testing debug debugging fix "
        "fixing try build building configure set change modify stop call execute open "
        "save check verify see"
    )
)
# Words that point back at the conversation.
_ANAPHORA: Final = frozenset(
    {"that", "it", "its", "this", "these", "those", "them", "they", "one", "ones", "same"}
)
_WORD: Final = re.compile(r"[^\W_]+")
_CONNECTOR: Final = re.compile(
    r"^\s*(?:and|but|so|also|then|now|ok(?:ay)?|what about|how about|what if)\b", re.I
)

_SIMPLE: Final = re.compile(
    r"\b(?:simpl\w*|plain(?:ly)?|easier|eli5|layman'?s?|basic terms|dumb(?:ed)? (?:it )?down|"
    r"in short|for a beginner|i'?m lost|confus\w*)\b",
    re.I,
)
_CODE: Final = re.compile(
    r"\b(?:code|example|examples|snippet|script|syntax|program|implement\w*|show me|"
    r"write|writing|command|commands)\b",
    re.I,
)
# Code in a program, not commands at a prompt: "how do I do that in code?".
_PROGRAM: Final = re.compile(
    r"\b(?:code|coding|program|programs|programming|python|snippet|implement\w*)\b", re.I
)
_REASON: Final = re.compile(r"^\W*(?:\w+\W+){0,2}?(?:why|what for)\b|\bmatters?\b", re.I)
_STEPS: Final = re.compile(
    r"\b(?:how (?:do|can|should|would) (?:i|you|we)|how to|steps?|set up|setup|install\w*|"
    r"configure|create|run|launch|build)\b",
    re.I,
)
# "what is a VLA model?", "what are topics", "whats a node" (as typed in a chat), "define X",
# "what does X mean", "meaning of X".
_WHAT_IS: Final = re.compile(
    r"\b(?:what(?:'s|s|\s+is|\s+are)|define|definition of|meaning of|who is)\s+"
    # "What is the difference between A, B and C" compares, whatever the commas do.
    r"(?!(?:the\s+)?difference\b)(?:(?:a|an|the)\s+)?(?P<subject>[^?.!,;]+)",
    re.I,
)
_WHAT_DOES_MEAN: Final = re.compile(
    r"\bwhat does\s+(?:(?:a|an|the)\s+)?(?P<subject>[^?.!,;]+?)\s+(?:mean|do|stand for)\b", re.I
)
# "topic vs service", "topics versus services", "difference between X and Y".
_VERSUS: Final = re.compile(
    r"(?P<a>[\w\s\-/]+?)\s+(?:vs\.?|versus|or)\s+(?:a\s+|an\s+|the\s+)?(?P<b>[\w\s\-/]+)", re.I
)
_BETWEEN: Final = re.compile(
    r"\bdifference between\s+(?:a\s+|an\s+|the\s+)?(?P<a>[\w\s\-/]+?)\s+and\s+"
    r"(?:a\s+|an\s+|the\s+)?(?P<b>[\w\s\-/]+)",
    re.I,
)
# A subject phrase stops before these ("what is a node in ROS 2" asks about "node").
_SUBJECT_END: Final = re.compile(
    r"\s+(?:in|for|on|with|when|used|and why|exactly|like|such as|e\.g\.)(?:\s|$).*$", re.I
)


@attrs.frozen
class Ask:
    """A student's message, read for what it wants, resolved against the conversation.

    ``topic`` is the earlier question the message follows up on (None: it stands alone);
    ``names_topic`` says whether the message names a topic of its own;
    ``stays_in_lesson`` that it only asks what to do with the earlier answer ("how do I
    run it?"), so the answer stays with the lesson that answered. ``subjects`` are the things
    it asks to have defined or compared, from the message, or from the topic when the
    message names none.
    """

    text: str
    topic: str | None = None
    names_topic: bool = True
    stays_in_lesson: bool = False

    @property
    def continues_answer(self) -> bool:
        """Whether the answer stays with the lesson that answered the earlier question."""
        return self.topic is not None and (not self.names_topic or self.stays_in_lesson)

    @property
    def search_query(self) -> str:
        """The ``query`` argument of the search call."""
        if self.topic is not None and not self.names_topic:
            return self.topic
        return self.text

    @property
    def previous_question(self) -> str | None:
        """The ``previous_question`` argument: the topic, when the message names its own."""
        return self.topic if self.topic is not None and self.names_topic else None

    @property
    def subjects(self) -> tuple[str, ...]:
        return subjects_of(self.search_query)

    @property
    def wants_simple(self) -> bool:
        return _SIMPLE.search(self.text) is not None

    @property
    def wants_code(self) -> bool:
        return _CODE.search(self.text) is not None

    @property
    def wants_program(self) -> bool:
        """Whether it asks for program code rather than commands to type."""
        return _PROGRAM.search(self.text) is not None

    @property
    def wants_reason(self) -> bool:
        return _REASON.search(self.text) is not None

    @property
    def wants_steps(self) -> bool:
        # "how do I do that" asks for the steps of the earlier topic.
        return _STEPS.search(self.text) is not None

    @property
    def wants_definition(self) -> bool:
        return bool(self.subjects)


def resolve(input: str | Sequence[TResponseInputItem], *, search_tool: str) -> Ask:
    """The newest user message of a model input, resolved against the earlier turns;
    ``search_tool`` names the search tool whose earlier calls say the topic."""
    text = last_user_text(input).strip()
    topic = None if isinstance(input, str) else _earlier_topic(input, search_tool)
    if topic is None:
        return Ask(text)
    own = set(analyze_query(text)) - _MANNER_TERMS
    if not own:
        return Ask(text, topic, names_topic=False)
    said = set(_WORD.findall(text.casefold()))
    points_back = not _ANAPHORA.isdisjoint(said) or _CONNECTOR.match(text) is not None
    if not points_back:
        return Ask(text)
    return Ask(text, topic, stays_in_lesson=own <= _ACTION_TERMS)


def subjects_of(query: str) -> tuple[str, ...]:
    """What ``query`` asks to have defined or compared ("VLA model"; "topic", "service")."""
    for pattern in (_BETWEEN, _VERSUS):
        match = pattern.search(query)
        if match is not None and _is_phrase(match["a"]) and _is_phrase(match["b"]):
            return (_subject(match["a"]), _subject(match["b"]))
    for pattern in (_WHAT_DOES_MEAN, _WHAT_IS):
        match = pattern.search(query)
        if match is not None and _is_phrase(match["subject"]):
            return (_subject(match["subject"]),)
    return ()


def _subject(phrase: str) -> str:
    return _SUBJECT_END.sub("", phrase).strip()


def _is_phrase(phrase: str) -> bool:
    # A thing, not a clause: "a VLA model", not "the best way to make my robot walk faster".
    terms = analyze_query(_subject(phrase))
    return 1 <= len(terms) <= 4


def _earlier_topic(items: Sequence[TResponseInputItem], search_tool: str) -> str | None:
    """The topic of the conversation before the newest user message.

    The latest search made before it says the topic as it was resolved then (a real
    model's own query, or the offline tutor's); without one, the previous user message.
    """
    entries = [cast(dict[str, Any], item) for item in items]
    users = [i for i, entry in enumerate(entries) if entry.get("role") == "user"]
    if len(users) < 2:
        return None
    for entry in reversed(entries[: users[-1]]):
        if entry.get("type") == "function_call" and entry.get("name") == search_tool:
            query = _query_of(entry.get("arguments"))
            if query:
                return query
    # Thread history has no tool calls: the latest earlier message that names a topic
    # (skipping "explain it more simply" and the like, which continued an older one).
    messages = [last_user_text(items[: i + 1]).strip() for i in users[:-1]]
    named = [text for text in messages if set(analyze_query(text)) - _MANNER_TERMS]
    return (named or messages or [""])[-1] or None


def _query_of(arguments: object) -> str | None:
    try:
        parsed = json.loads(str(arguments or "{}"))
    except ValueError:
        return None
    query = parsed.get("query") if isinstance(parsed, dict) else None
    return query.strip() if isinstance(query, str) else None

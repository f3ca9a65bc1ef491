"""What the book's vocabulary says about the words of a question.

A word of the question that the book never uses is one of three things, told apart by
how common it is in English at large:

- a **misspelling** of a book word ("pubisher", "gazbo", "jittery" for "jitter"): a rare
  word one edit away from a book word. It is read as that word.
- an **everyday word** ("sinks", "fifty", "commas"), or a misspelled one ("dosnt"): the
  student's paraphrase. It just matches nothing; the rest of the question finds the
  lesson.
- a **rare name** ("xacro", "quicksort", "arduino"): not among the ~29,000 commonest
  English words and not near any book word, so it names a tool, library or topic. A
  book that never names it does not cover the question: counting it like any other
  missing word would also refuse the paraphrases, which is why it is told apart.

"Common in English" is the word list of the ``wordfreq`` package (its ``small`` English
list: words used at least once per million words), loaded once per index.

A question must also name one of the book's **subjects**: a word the book's passages use
far more often than English at large does ("node", "gazebo", "sensor", "simulation"), or
the book itself. Off-topic trivia in everyday words ("a good banana bread recipe") can
match a passage as well as a vague real question does ("recipe" is one of the book's
analogies), but it names no subject. (The search lets a question pointing at what is
read, "can I do this on a mac?", name none: it is about the page or the course.)
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Iterable, Mapping
from types import MappingProxyType
from typing import Final

import attrs

from robolearn.rag._analyzer import QUERY_FILLER, STOPWORDS, american, analyze, words
from robolearn.rag._stemmer import stem

__all__ = ["BookVocabulary", "WordCheck", "english_word_frequencies"]

# Words of three letters or fewer have too many neighbours one edit away to say which
# was meant, and are mostly abbreviations.
_MIN_MISSPELLED: Final = 4
_MIN_RARE_NAME: Final = 4
_LETTERS: Final = "abcdefghijklmnopqrstuvwxyz"
# A known word with one of these added is no name: "uninstall", "checkable", "overshoots".
# Only affixes, never two words: "quicksort" and "costmap" are names made of everyday ones.
_PREFIXES: Final = ("un", "re", "de", "dis", "mis", "non", "pre", "over", "under")
_SUFFIXES: Final = ("s", "es", "ed", "ing", "er", "ers", "able", "ible", "ly", "ness")
_MIN_STEM: Final = 4
# A pasted exception ("ImportError ... not found") names the student's problem, not a topic.
_ERROR_NAMES: Final = ("error", "exception", "warning")
_STRETCHED: Final = re.compile(r"(\w)\1{2,}")
# A subject is a word whose share of the book's passages is at least this many times the
# share of ~150-word English passages that would have it, from its English frequency.
_SUBJECT_RATIO: Final = 2.0
_PASSAGE_WORDS: Final = 150
# Questions about the book itself ("who is this book written for") are about it.
_THE_BOOK: Final = frozenset(
    {"book", "textbook", "course", "lesson", "lessons", "chapter", "module", "tutor"}
)


def english_word_frequencies() -> Mapping[str, float]:
    """The commonest English words (at least once per million) and how often each is used,
    from ``wordfreq``.

    Spelled as :func:`~robolearn.rag._analyzer.words` spells them: without apostrophes.
    """
    import wordfreq  # 0.15 s to import: only an index build needs it

    frequencies: dict[str, float] = {}
    for word, frequency in wordfreq.get_frequency_dict("en", "small").items():
        spelled = word.replace("'", "")
        frequencies[spelled] = max(frequency, frequencies.get(spelled, 0.0))
    return MappingProxyType(frequencies)


@attrs.frozen
class WordCheck:
    """The outcome for one question: term corrections and the rare names in it.

    ``corrections`` maps a misspelled word's index term to the book word's term.
    ``rare_names`` are words the book never uses and English rarely does.
    ``names_subject`` says whether the text names one of the book's subjects.
    """

    corrections: Mapping[str, str] = MappingProxyType({})
    rare_names: tuple[str, ...] = ()
    names_subject: bool = True


@attrs.frozen
class BookVocabulary:
    """The book's words, for reading a question's words the book does not use.

    ``stems`` maps each book word to its index term; ``indexed`` says whether a term is
    in the index (and how many of the book's ``passages`` have it, to break ties between
    misspellings and to tell its subjects); ``understood`` is the query terms the analyzer
    maps to book terms itself (student shorthand and synonyms); ``common`` is
    :func:`english_word_frequencies`.
    """

    _stems: Mapping[str, str]
    _indexed: Callable[[str], int]
    _passages: int
    _understood: frozenset[str]
    _common: Mapping[str, float]
    _common_stems: frozenset[str]  # "commas" is everyday English because "comma" is

    @classmethod
    def build(
        cls,
        stems: Mapping[str, str],
        indexed: Callable[[str], int],
        *,
        passages: int,
        understood: Iterable[str] = (),
        common: Mapping[str, float] = MappingProxyType({}),
    ) -> BookVocabulary:
        return cls(
            stems=MappingProxyType(dict(stems)),
            indexed=indexed,
            passages=passages,
            understood=frozenset(understood),
            common=common,
            common_stems=frozenset(stem(american(word)) for word in common),
        )

    def check(self, text: str) -> WordCheck:
        """Read the words of ``text`` the book does not use (see the module docstring)."""
        corrections: dict[str, str] = {}
        rare: list[str] = []
        subject = False
        for word in dict.fromkeys(words(text)):
            if word in STOPWORDS or word in QUERY_FILLER or word[0].isdigit():
                continue  # a number, or a quantity ("250ms", "15fps"): never a name
            terms = analyze(word)
            subject = subject or self._is_subject(word, terms)
            if not terms or all(self._indexed(term) or term in self._understood for term in terms):
                continue
            if word in self._common or self._common_stems.issuperset(terms):
                continue  # an everyday word: a paraphrase, not a topic
            near = _one_edit_away(word)
            book_words = near & self._stems.keys()
            if book_words:
                # The likeliest word meant is the one more of the book uses.
                meant = max(
                    book_words,
                    key=lambda other: (
                        self._indexed(self._stems[other]),
                        self._stems[other],
                        other,
                    ),
                )
                corrections.update(dict.fromkeys(terms, self._stems[meant]))
                subject = subject or self._is_subject(meant, (self._stems[meant],))
            elif (
                len(word) >= _MIN_RARE_NAME
                and near.isdisjoint(self._common)
                and not word.endswith(_ERROR_NAMES)
                and not any(self._is_known(base) for base in (*_bases(word), *_shortened(word)))
            ):
                rare.append(word)
        return WordCheck(MappingProxyType(corrections), tuple(rare), subject)

    def _is_subject(self, word: str, terms: Iterable[str]) -> bool:
        if word in _THE_BOOK:
            return True
        english = 1 - math.exp(-self._common.get(word, 0.0) * _PASSAGE_WORDS)
        return any(
            self._indexed(term) >= _SUBJECT_RATIO * english * self._passages
            and self._indexed(term) > 0
            for term in terms
        )

    def _is_known(self, word: str) -> bool:
        return word in self._common or word in self._stems


def _bases(word: str) -> Iterable[str]:
    """What ``word`` may be derived from by one prefix or suffix ("uninstall": "install")."""
    for prefix in _PREFIXES:
        if word.startswith(prefix) and len(word) - len(prefix) >= _MIN_STEM:
            yield word[len(prefix) :]
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
            base = word[: -len(suffix)]
            yield from (base, base + "e")


def _shortened(word: str) -> Iterable[str]:
    """``word`` with letters typed three times or more ("pleeease", "heyyy") kept once, and
    twice: chat stretches words, and a stretched word is no name."""
    if _STRETCHED.search(word):
        yield _STRETCHED.sub(r"\1", word)
        yield _STRETCHED.sub(r"\1\1", word)


def _one_edit_away(word: str) -> frozenset[str]:
    """The words one letter added, dropped, changed, or two swapped away from ``word``.

    Empty for words too short or not plain letters: they have too many such neighbours
    to say which was meant. The first letter stays: people seldom mistype it, while a
    name differing there from an everyday word is usually a name ("xacro", "macro").
    """
    if len(word) < _MIN_MISSPELLED or not (word.isascii() and word.isalpha()):
        return frozenset()
    splits = [(word[:i], word[i:]) for i in range(1, len(word) + 1)]
    return frozenset(
        [
            *(left + right[1:] for left, right in splits if right),
            *(left + right[1] + right[0] + right[2:] for left, right in splits if len(right) > 1),
            *(left + c + right[1:] for left, right in splits if right for c in _LETTERS),
            *(left + c + right for left, right in splits for c in _LETTERS),
        ]
    ) - {word}

"""Text analysis for the lexical index: one function turns any text into index terms.

Both the chunks and the queries go through :func:`analyze`, so a term in a question can
only match the same term in the book. Lowercasing uses ``casefold`` and NFKC so that
non-ASCII text (accents, full-width characters) is split and matched consistently.
"""

from __future__ import annotations

import re
import unicodedata
from typing import Final

from robolearn.rag._stemmer import stem

# Letters and digits of any script; "_" and punctuation separate words, so
# ``create_publisher`` and ``ros_gz_bridge`` match "create publisher" and "ros gz bridge".
_WORD = re.compile(r"[^\W_]+")


def _word_set(text: str) -> frozenset[str]:
    # Word lists read best as prose; apostrophes go because words() drops them too.
    return frozenset(word.replace("'", "") for word in text.split())


STOPWORDS = _word_set(
    """
    a about above after again against all am an and any are aren't as at be because been
    before being below between both but by can cannot could couldn't did didn't do does
    doesn't doing don't down during each few for from further had hadn't has hasn't have
    haven't having he her here hers herself him himself his how i if in into is isn't it
    its itself just let me more most my myself no nor not now of off on once only or other
    ought our ours ourselves out over own same she should shouldn't so some such than that
    the their theirs them themselves then there these they this those through to too under
    until up very was wasn't we were weren't what when where which while who whom why will
    with won't would wouldn't you your yours yourself yourselves s t d ll m re ve y
    also am via etc e g eg ie may might must shall us
    """
)

# Conversational filler in questions ("can you explain ... please"): removed from queries
# only. The book uses some of these words itself, so dropping them from the index would
# lose nothing, but dropping them from a question stops them matching on noise.
QUERY_FILLER = _word_set(
    """
    explain explained explaining tell please help know want wanna need understand
    understanding mean means meaning thing things stuff really actually basically like
    get got gonna work works working hey hi hello thanks thank ok okay idk im dont cant
    doesnt whats hows lol yeah anyone someone something guys kinda sorta pls plz exactly
    """
)


# British spellings folded into American ones before stemming, in the book and in questions
# alike: the stemmer keeps "randomised" and "randomized" apart, and students write both.
# Applied to both sides, a word folded by mistake ("premise" → "premize") still matches
# itself, so the rules can be broad.
# (British ending, American one, letters before it at least, what may follow it)
_BRITISH_RULES: Final = (
    ("is", "iz", 3, ("e", "ed", "es", "ing", "ation", "ations")),
    ("ys", "yz", 3, ("e", "ed", "es", "ing")),
    ("our", "or", 3, ("", "s", "ed", "ing", "ful", "ite", "ites")),
    ("tre", "ter", 2, ("", "s")),
)
_BRITISH: Final = tuple(
    (re.compile(rf"(?<=\w{{{before}}}){british}({'|'.join(after)})$"), rf"{us}\1")
    for british, us, before, after in _BRITISH_RULES
)
# Every ending a rule can match: most words have none, and a suffix test is far cheaper
# than four regular expressions.
_BRITISH_ENDINGS: Final = tuple(
    british + ending for british, _, _, after in _BRITISH_RULES for ending in after
)


def american(word: str) -> str:
    """``word`` with British -ise, -yse, -our and -tre endings spelled the American way."""
    if not word.endswith(_BRITISH_ENDINGS):
        return word
    for pattern, replacement in _BRITISH:
        word = pattern.sub(replacement, word)
    return word


def words(text: str) -> list[str]:
    """Split ``text`` into lowercase words (Unicode-aware, no stemming or stopwords)."""
    normalized = unicodedata.normalize("NFKC", text).casefold()
    # Apostrophes join contractions ("don't") so they can be recognised as stopwords.
    normalized = normalized.replace("\u2019", "'").replace("'", "")
    return _WORD.findall(normalized)


def analyze(
    text: str,
    *,
    extra_stopwords: frozenset[str] = frozenset(),
    stem_cache: dict[str, str] | None = None,
) -> list[str]:
    """Turn ``text`` into index terms: words minus stopwords, Porter-stemmed, in order.

    Single letters are dropped (they are variable names and list markers, not topics);
    single digits stay because "ROS 2" and "Tier 1" mean something. ``stem_cache``, owned
    by the caller, memoises stems across many calls (indexing a whole book).
    """
    terms: list[str] = []
    for word in words(text):
        if word in STOPWORDS or word in extra_stopwords:
            continue
        if len(word) == 1 and not word.isdigit():
            continue
        if stem_cache is None:
            terms.append(stem(american(word)))
            continue
        stemmed = stem_cache.get(word)
        if stemmed is None:
            stemmed = stem_cache[word] = stem(american(word))
        terms.append(stemmed)
    return terms


def analyze_query(text: str) -> list[str]:
    """Analyze a student's question: like :func:`analyze`, minus conversational filler."""
    return analyze(text, extra_stopwords=QUERY_FILLER)

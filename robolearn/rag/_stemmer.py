"""Porter stems of plain English words, from Snowball's Porter stemmer (PyStemmer).

Stems are index keys, not words: "simulation", "simulator" and "simulate" all become
"simul", which is what lets a student's wording meet the book's. Words that are not plain
lowercase ASCII letters ("ros2", "gazébo") are returned unchanged.
"""

from __future__ import annotations

import Stemmer

# Porter's 1980 algorithm, not Snowball's "english" (Porter2): the index, the tuned
# search weights and the eval figures were all made with Porter's stems.
_ALGORITHM = "porter"
_MAX_LENGTH = 40  # longer "words" are identifiers or noise, not English to conflate


def stem(word: str) -> str:
    """Return the Porter stem of ``word``.

    Only lowercase ASCII words of 3 to 40 letters are stemmed; others come back unchanged.
    Safe to call from any thread.
    """
    if not 2 < len(word) <= _MAX_LENGTH or not (
        word.isascii() and word.isalpha() and word.islower()
    ):
        return word
    # A PyStemmer instance keeps state between calls and must not be shared between
    # threads (the index is built in worker threads while queries are analysed on the
    # event loop); a fresh one costs about a microsecond, and callers that stem a whole
    # book memoise through ``analyze(stem_cache=...)``. No instance cache, so: size 0.
    stemmed: str = Stemmer.Stemmer(_ALGORITHM, 0).stemWord(word)
    return stemmed

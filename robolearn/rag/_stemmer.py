"""The Porter (1980) suffix-stripping stemmer, for lowercase ASCII words.

Stems are index keys, not words: "simulation", "simulator" and "simulate" all become
"simul", which is what lets a student's wording meet the book's. Words that are not plain
lowercase ASCII letters ("ros2", "gazébo") are returned unchanged.
"""

from __future__ import annotations

_VOWELS = frozenset("aeiou")
_MAX_LENGTH = 40  # longer "words" are identifiers or noise, not English to conflate

# (suffix, replacement) in the order Porter lists them; within a step the longest
# matching suffix wins and, if its condition fails, no shorter suffix is tried.
_STEP2 = (
    ("ational", "ate"),
    ("tional", "tion"),
    ("enci", "ence"),
    ("anci", "ance"),
    ("izer", "ize"),
    ("bli", "ble"),
    ("alli", "al"),
    ("entli", "ent"),
    ("eli", "e"),
    ("ousli", "ous"),
    ("ization", "ize"),
    ("ation", "ate"),
    ("ator", "ate"),
    ("alism", "al"),
    ("iveness", "ive"),
    ("fulness", "ful"),
    ("ousness", "ous"),
    ("aliti", "al"),
    ("iviti", "ive"),
    ("biliti", "ble"),
    ("logi", "log"),
)
_STEP3 = (
    ("icate", "ic"),
    ("ative", ""),
    ("alize", "al"),
    ("iciti", "ic"),
    ("ical", "ic"),
    ("ful", ""),
    ("ness", ""),
)
_STEP4 = (
    "al",
    "ance",
    "ence",
    "er",
    "ic",
    "able",
    "ible",
    "ant",
    "ement",
    "ment",
    "ent",
    "ion",
    "ou",
    "ism",
    "ate",
    "iti",
    "ous",
    "ive",
    "ize",
)


def stem(word: str) -> str:
    """Return the Porter stem of ``word``.

    Only lowercase ASCII words of 3 to 40 letters are stemmed; others come back unchanged.
    """
    if not 2 < len(word) <= _MAX_LENGTH or not (
        word.isascii() and word.isalpha() and word.islower()
    ):
        return word
    word = _step1a(word)
    word = _step1b(word)
    word = _step1c(word)
    word = _replace_longest(word, _STEP2, min_measure=1)
    word = _replace_longest(word, _STEP3, min_measure=1)
    word = _step4(word)
    return _step5(word)


def _is_consonant(word: str, index: int) -> bool:
    char = word[index]
    if char in _VOWELS:
        return False
    if char != "y":
        return True
    # "y" is a consonant at the start or after a vowel, a vowel after a consonant; along
    # a run of y's the role alternates (computed without recursion: runs can be long).
    start = index
    while start > 0 and word[start - 1] == "y":
        start -= 1
    first_is_consonant = start == 0 or word[start - 1] in _VOWELS
    return first_is_consonant == ((index - start) % 2 == 0)


def _measure(stem_: str) -> int:
    """Porter's m: the number of vowel-consonant sequences in ``stem_``."""
    count = 0
    previous_vowel = False
    for index in range(len(stem_)):
        vowel = not _is_consonant(stem_, index)
        if previous_vowel and not vowel:
            count += 1
        previous_vowel = vowel
    return count


def _has_vowel(stem_: str) -> bool:
    return any(not _is_consonant(stem_, index) for index in range(len(stem_)))


def _ends_double_consonant(word: str) -> bool:
    return len(word) >= 2 and word[-1] == word[-2] and _is_consonant(word, len(word) - 1)


def _ends_cvc(word: str) -> bool:
    """Consonant-vowel-consonant ending whose last consonant is not w, x or y."""
    return (
        len(word) >= 3
        and _is_consonant(word, len(word) - 3)
        and not _is_consonant(word, len(word) - 2)
        and _is_consonant(word, len(word) - 1)
        and word[-1] not in "wxy"
    )


def _step1a(word: str) -> str:
    if word.endswith("sses"):
        return word[:-2]
    if word.endswith("ies"):
        return word[:-2]
    if word.endswith("ss"):
        return word
    if word.endswith("s"):
        return word[:-1]
    return word


def _step1b(word: str) -> str:
    if word.endswith("eed"):
        return word[:-1] if _measure(word[:-3]) > 0 else word
    for suffix in ("ed", "ing"):
        if word.endswith(suffix) and _has_vowel(word[: -len(suffix)]):
            return _step1b_tidy(word[: -len(suffix)])
    return word


def _step1b_tidy(word: str) -> str:
    if word.endswith(("at", "bl", "iz")):
        return word + "e"
    if _ends_double_consonant(word) and word[-1] not in "lsz":
        return word[:-1]
    if _measure(word) == 1 and _ends_cvc(word):
        return word + "e"
    return word


def _step1c(word: str) -> str:
    if word.endswith("y") and _has_vowel(word[:-1]):
        return word[:-1] + "i"
    return word


def _replace_longest(word: str, rules: tuple[tuple[str, str], ...], *, min_measure: int) -> str:
    best: tuple[str, str] | None = None
    for suffix, replacement in rules:
        if word.endswith(suffix) and (best is None or len(suffix) > len(best[0])):
            best = (suffix, replacement)
    if best is None:
        return word
    suffix, replacement = best
    base = word[: -len(suffix)]
    return base + replacement if _measure(base) >= min_measure else word


def _step4(word: str) -> str:
    matches = [suffix for suffix in _STEP4 if word.endswith(suffix)]
    if not matches:
        return word
    suffix = max(matches, key=len)
    base = word[: -len(suffix)]
    if _measure(base) <= 1:
        return word
    if suffix == "ion" and not base.endswith(("s", "t")):
        return word
    return base


def _step5(word: str) -> str:
    if word.endswith("e"):
        base = word[:-1]
        measure = _measure(base)
        if measure > 1 or (measure == 1 and not _ends_cvc(base)):
            word = base
    if _measure(word) > 1 and _ends_double_consonant(word) and word.endswith("l"):
        word = word[:-1]
    return word

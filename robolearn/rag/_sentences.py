"""A passage's prose as plain sentences, and its code blocks, for quoting it.

Code, tables, headings, admonition fences and MDX/HTML lines are dropped from the prose;
inline Markdown is reduced to its text (links keep their label, emphasis its words, inline
code its backticks). A list item is a block of its own, like a paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

from robolearn.rag._markdown import heading_of, iter_lines

__all__ = ["Sentence", "code_blocks", "prose_sentences"]

_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_SKIPPED_LINE = re.compile(r"^\s*(?:\||:::|<|import\s|export\s|---+\s*$|\*\*\*+\s*$|___+\s*$)")
_IMAGE = re.compile(r"!\[[^\]]*\]\([^)]*\)")
_LINK = re.compile(r"\[([^\]]+)\]\([^)]*\)")
_HTML_TAG = re.compile(r"</?[A-Za-z][^>]*>")
_STRONG = re.compile(r"(?<!\w)(\*\*|__)(?=\S)(.+?)(?<=\S)\1(?!\w)")
_EMPHASIS = re.compile(r"(?<![\w*])\*(?=\S)([^*]+?)(?<=\S)\*(?![\w*])")
_QUOTE_MARKER = re.compile(r"^\s*>\s?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"”')\]]*\s+(?=[\"“(`\[A-Z0-9])")
_SPACES = re.compile(r"\s+")
_INLINE_CODE = re.compile(r"(`+)(.+?)\1")
_HAS_WORD = re.compile(r"[^\W\d_]")


@attrs.frozen
class Sentence:
    """One sentence; ``block`` numbers the paragraph or list item it comes from."""

    text: str
    block: int
    in_list: bool = False

    @property
    def is_complete(self) -> bool:
        """A real sentence (ends like one, several words), not a label or a fragment."""
        return self.text.endswith((".", "!", "?")) and len(self.text.split()) >= 8


def prose_sentences(markdown: str) -> list[Sentence]:
    """The sentences of ``markdown``'s prose, in reading order."""
    sentences: list[Sentence] = []
    for number, (block, in_list) in enumerate(_blocks(markdown)):
        text = _inline_text(block)
        for piece in _SENTENCE_END.split(text):
            piece = piece.strip()
            if _HAS_WORD.search(piece):
                sentences.append(Sentence(piece, number, in_list))
    return sentences


def code_blocks(markdown: str) -> list[str]:
    """The fenced code blocks of ``markdown``, fences included, in order."""
    blocks: list[str] = []
    current: list[str] | None = None
    for line in iter_lines(markdown):
        if not line.in_code:
            current = None
            continue
        if current is None:
            current = []
            blocks.append("")
        current.append(line.text)
        blocks[-1] = "\n".join(current)
        if len(current) > 1 and _closes(current[0], line.text):
            current = None  # a fence right after this one starts a new block
    return blocks


def _closes(opening: str, line: str) -> bool:
    fence = opening.strip()
    length = len(fence) - len(fence.lstrip(fence[0]))
    stripped = line.strip()
    return len(stripped) >= length and stripped == fence[0] * len(stripped)


def _blocks(markdown: str) -> Iterator[tuple[str, bool]]:
    """Paragraphs and list items as single-line strings, with whether each is an item."""
    lines: list[str] = []
    in_list = False
    for line in iter_lines(markdown):
        text = line.text
        skip = line.in_code or heading_of(line) is not None or _SKIPPED_LINE.match(text)
        item = _LIST_MARKER.match(text) is not None
        if (skip or not text.strip() or item) and lines:
            yield " ".join(lines), in_list
            lines = []
        if skip or not text.strip():
            continue
        if not lines:
            in_list = item
        lines.append(_QUOTE_MARKER.sub("", _LIST_MARKER.sub("", text)).strip())
    if lines:
        yield " ".join(lines), in_list


def _inline_text(text: str) -> str:
    # Markup inside inline code is code (`__init__` is not bold): only the rest is cleaned.
    pieces: list[str] = []
    position = 0
    for match in _INLINE_CODE.finditer(text):
        pieces.append(_clean_markup(text[position : match.start()]))
        pieces.append(match[0])
        position = match.end()
    pieces.append(_clean_markup(text[position:]))
    return _SPACES.sub(" ", "".join(pieces)).strip()


def _clean_markup(text: str) -> str:
    text = _IMAGE.sub("", text)
    text = _LINK.sub(r"\1", text)
    text = _HTML_TAG.sub("", text)
    text = _STRONG.sub(r"\2", text)
    return _EMPHASIS.sub(r"\1", text)

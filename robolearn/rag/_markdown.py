"""Line-level Markdown facts shared by the lesson reader and the chunker.

Only what retrieval needs: which lines sit inside a fenced code block and which lines
are ATX headings. A ``## comment`` inside a fence is code, never a heading.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

# Any indentation is accepted for fences: the corpus indents fences inside list items, and
# treating an over-indented fence as code only makes chunk boundaries more conservative.
_FENCE_OPEN = re.compile(r"^[ \t]*(?P<fence>`{3,}|~{3,})(?P<info>.*)$")
_ATX_HEADING = re.compile(r"^ {0,3}(?P<hashes>#{1,6})(?:[ \t]+(?P<text>.*?))?(?:[ \t]+#+)?[ \t]*$")


@attrs.frozen
class MarkdownLine:
    """One physical line (without its line break) and whether it belongs to a code fence.

    Fence delimiter lines themselves count as code, so a block of ``in_code`` lines is
    always a complete fence that may be kept or dropped as a whole.
    """

    text: str
    in_code: bool


def iter_lines(text: str) -> Iterator[MarkdownLine]:
    """Yield the lines of ``text`` with fenced-code state (CommonMark fence rules).

    An unclosed fence runs to the end of the text, as in CommonMark.
    """
    fence_char = ""
    fence_len = 0
    for line in text.splitlines():
        if fence_char:
            stripped = line.strip()
            if len(stripped) >= fence_len and stripped == fence_char * len(stripped):
                fence_char = ""
            yield MarkdownLine(line, in_code=True)
            continue
        match = _FENCE_OPEN.match(line)
        # A backtick fence's info string may not contain backticks (CommonMark), which
        # keeps inline code such as ```x``` on one line from opening a fence.
        if match and not (match["fence"][0] == "`" and "`" in match["info"]):
            fence_char = match["fence"][0]
            fence_len = len(match["fence"])
            yield MarkdownLine(line, in_code=True)
            continue
        yield MarkdownLine(line, in_code=False)


def heading_of(line: MarkdownLine) -> tuple[int, str] | None:
    """Return ``(level, text)`` when ``line`` is an ATX heading outside code, else None."""
    if line.in_code:
        return None
    match = _ATX_HEADING.match(line.text)
    if match is None:
        return None
    return len(match["hashes"]), (match["text"] or "").strip()


def first_h1(text: str) -> str | None:
    """The text of the first level-1 heading outside code fences, if any."""
    for line in iter_lines(text):
        heading = heading_of(line)
        if heading is not None and heading[0] == 1 and heading[1]:
            return heading[1]
    return None


def subheadings(text: str, *, min_level: int = 3) -> list[str]:
    """The texts of headings of ``min_level`` or deeper outside code fences, in order."""
    found: list[str] = []
    for line in iter_lines(text):
        heading = heading_of(line)
        if heading is not None and heading[0] >= min_level and heading[1]:
            found.append(heading[1])
    return found

"""Lesson body → retrieval chunks, one per ``##`` section (split when a section is long).

A chunk never ends or starts inside a fenced code block: a fence is an atomic unit, so an
oversized fence becomes one oversized chunk rather than two halves of broken code. Long
prose is split with a small overlap so a sentence cut at a boundary is still findable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

import attrs

from robolearn.rag._lessons import Lesson
from robolearn.rag._markdown import MarkdownLine, heading_of, iter_lines

DEFAULT_MAX_TOKENS = 400
DEFAULT_OVERLAP_TOKENS = 40
HEADING_SEPARATOR = " > "
_PIECE = re.compile(r"\S+\s*")
_HAS_WORD = re.compile(r"[^\W_]")


@attrs.frozen
class Chunk:
    """A retrievable passage of a lesson, carrying the lesson metadata results need.

    ``heading`` is the section's heading path ("Topics > Publishers" when a long
    ``## Topics`` section is split and this piece starts under ``### Publishers``); it is
    empty for the text before the lesson's first ``##`` section. ``ordinal`` orders the
    chunks of one lesson from 0.
    """

    lesson_path: str
    ordinal: int
    heading: str
    text: str
    title: str
    url: str
    module: int | None
    chapter: int | None
    lesson: int | None
    hardware_tier: int | None

    @property
    def chunk_id(self) -> str:
        """A stable identifier: ``{lesson_path}#{ordinal}``."""
        return f"{self.lesson_path}#{self.ordinal}"

    @property
    def token_count(self) -> int:
        """Whitespace-separated words in ``text`` (the chunker's notion of a token)."""
        return len(self.text.split())


@attrs.frozen
class _Unit:
    """Lines that must stay together: a paragraph, or a whole code fence."""

    text: str
    is_code: bool
    subheading: str | None  # the ``###`` heading this unit starts, if any

    @property
    def size(self) -> int:
        return len(self.text.split())


@attrs.frozen
class _Section:
    heading: str
    units: tuple[_Unit, ...]


def chunk_lesson(
    lesson: Lesson,
    *,
    max_tokens: int = DEFAULT_MAX_TOKENS,
    overlap_tokens: int = DEFAULT_OVERLAP_TOKENS,
) -> list[Chunk]:
    """Split ``lesson.body`` into chunks of about ``max_tokens`` words each.

    Sections with no words are dropped. Only prose is carried over as overlap.
    """
    if max_tokens < 1 or not 0 <= overlap_tokens < max_tokens:
        raise ValueError(
            f"need max_tokens >= 1 and 0 <= overlap_tokens < max_tokens, "
            f"got max_tokens={max_tokens}, overlap_tokens={overlap_tokens}"
        )
    chunks: list[Chunk] = []
    for section in _sections(lesson.body):
        for heading, text in _pack(section, max_tokens, overlap_tokens):
            chunks.append(
                Chunk(
                    lesson_path=lesson.path,
                    ordinal=len(chunks),
                    heading=heading,
                    text=text,
                    title=lesson.title,
                    url=lesson.url,
                    module=lesson.module,
                    chapter=lesson.chapter,
                    lesson=lesson.lesson,
                    hardware_tier=lesson.hardware_tier,
                )
            )
    return chunks


def chunk_lessons(lessons: Iterable[Lesson], **options: int) -> list[Chunk]:
    """Chunk every lesson in order (``options`` as for :func:`chunk_lesson`)."""
    return [chunk for lesson in lessons for chunk in chunk_lesson(lesson, **options)]


def _sections(body: str) -> Iterator[_Section]:
    """Group the body's lines into sections at each level-1 or level-2 heading."""
    heading = ""
    lines: list[MarkdownLine] = []
    for line in iter_lines(body):
        level_text = heading_of(line)
        if level_text is not None and level_text[0] <= 2:
            yield _Section(heading, tuple(_units(lines)))
            # The page title (H1) opens the intro, which has no section heading.
            heading = level_text[1] if level_text[0] == 2 else ""
            lines = []
            continue
        lines.append(line)
    yield _Section(heading, tuple(_units(lines)))


def _units(lines: list[MarkdownLine]) -> Iterator[_Unit]:
    """Paragraphs split at blank lines, fences kept whole, ``###`` headings glued on.

    A subheading is glued to the unit after it so no piece ends on a dangling heading;
    a subheading with nothing under it is an empty subsection and is dropped.
    """
    subheading: tuple[str, str] | None = None  # (heading text, original line)
    buffer: list[str] = []
    buffer_is_code = False

    def flush() -> Iterator[_Unit]:
        nonlocal subheading, buffer
        text = "\n".join(buffer).strip("\n")
        buffer = []
        if not _HAS_WORD.search(text):
            return
        if subheading is not None:
            yield _Unit(f"{subheading[1]}\n\n{text}", buffer_is_code, subheading[0])
            subheading = None
        else:
            yield _Unit(text, buffer_is_code, None)

    for line in lines:
        if line.in_code != buffer_is_code:
            yield from flush()
            buffer_is_code = line.in_code
        if line.in_code:
            buffer.append(line.text)
            continue
        level_text = heading_of(line)
        if level_text is not None:
            yield from flush()
            subheading = (level_text[1], line.text.strip())
        elif line.text.strip():
            buffer.append(line.text)
        else:
            yield from flush()
    yield from flush()


def _pack(section: _Section, max_tokens: int, overlap_tokens: int) -> Iterator[tuple[str, str]]:
    """Greedily pack a section's units into ``(heading path, text)`` pieces."""
    subheading: str | None = None  # the latest ### heading, for the heading path
    piece: list[_Unit] = []
    size = 0
    has_content = False  # the piece holds more than the overlap carried into it
    emitted = False
    heading = section.heading
    for unit in _split_oversized(section.units, max_tokens, overlap_tokens):
        if unit.subheading is not None:
            subheading = unit.subheading
        if has_content and size + unit.size > max_tokens:
            yield heading, _join(piece)
            emitted = True
            overlap = _overlap(piece[-1], overlap_tokens)
            piece = [] if overlap is None else [overlap]
            size = sum(u.size for u in piece)
            has_content = False
        if not has_content:
            # The first piece is the section itself; later ones say where they start.
            heading = _heading_path(section.heading, subheading if emitted else None)
        piece.append(unit)
        size += unit.size
        has_content = True
    if has_content:
        yield heading, _join(piece)


def _heading_path(section: str, subheading: str | None) -> str:
    if subheading and section:
        return section + HEADING_SEPARATOR + subheading
    return subheading or section


def _split_oversized(units: Iterable[_Unit], max_tokens: int, overlap: int) -> Iterator[_Unit]:
    """Cut prose units longer than ``max_tokens`` words into windows; keep code whole.

    Windows leave room for the overlap the packer prepends to every piece after the
    first, so a split paragraph still yields pieces of at most ``max_tokens`` words.
    """
    window = max_tokens - overlap
    for unit in units:
        if unit.is_code or unit.size <= max_tokens:
            yield unit
            continue
        pieces = _PIECE.findall(unit.text)
        for start in range(0, len(pieces), window):
            yield _Unit(
                "".join(pieces[start : start + window]).strip(),
                is_code=False,
                subheading=unit.subheading if start == 0 else None,
            )


def _overlap(unit: _Unit, overlap_tokens: int) -> _Unit | None:
    """The tail of a prose unit to repeat at the start of the next piece."""
    if unit.is_code or overlap_tokens == 0:
        return None
    pieces = _PIECE.findall(unit.text)
    tail = "".join(pieces[-overlap_tokens:]).strip()
    return _Unit(text=tail, is_code=False, subheading=None) if tail else None


def _join(units: list[_Unit]) -> str:
    return "\n\n".join(unit.text for unit in units)

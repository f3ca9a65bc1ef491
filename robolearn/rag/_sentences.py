"""A passage's prose as plain sentences, its code blocks and its shell steps, for quoting it.

Code, tables, headings, admonition fences and MDX/HTML lines are dropped from the prose;
inline Markdown is reduced to its text (links keep their label, emphasis its words, inline
code its backticks). A list item is a block of its own, like a paragraph.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import attrs

from robolearn.rag._markdown import heading_of, iter_lines

__all__ = ["CommandStep", "Sentence", "code_blocks", "command_steps", "prose_sentences"]

_LIST_MARKER = re.compile(r"^\s*(?:[-*+]|\d{1,3}[.)])\s+(?:\[[ xX]\]\s+)?")
_NUMBERED = re.compile(r"^\s*\d{1,3}[.)]\s+")
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
_SHELL_FENCE = re.compile(r"^\s*(?:`{3,}|~{3,})\s*(?:bash|sh|shell|console|zsh|powershell)\b")
_PROMPT = re.compile(r"^\s*\$\s+")


@attrs.frozen
class Sentence:
    """One sentence; ``block`` numbers the paragraph or list item it comes from.

    ``numbered`` marks an item of a numbered list ("1. Install ..."): a step, in order.
    """

    text: str
    block: int
    in_list: bool = False
    numbered: bool = False

    @property
    def is_complete(self) -> bool:
        """A real sentence (ends like one, several words), not a label or a fragment."""
        return self.text.endswith((".", "!", "?")) and len(self.text.split()) >= 8


def prose_sentences(markdown: str) -> list[Sentence]:
    """The sentences of ``markdown``'s prose, in reading order."""
    sentences: list[Sentence] = []
    for number, (block, in_list, numbered) in enumerate(_blocks(markdown)):
        text = _inline_text(block)
        for piece in _SENTENCE_END.split(text):
            piece = piece.strip()
            if _HAS_WORD.search(piece):
                sentences.append(Sentence(piece, number, in_list, numbered))
    return sentences


@attrs.frozen
class CommandStep:
    """A shell block and the prose line that introduces it ("Terminal 1: Start the
    publisher"), a step of a how-to; ``label`` is empty when nothing introduces it."""

    label: str
    commands: tuple[str, ...]


def command_steps(markdown: str) -> list[CommandStep]:
    """The shell code blocks of ``markdown`` (bash, sh, console ...) with their lead-ins,
    in order; comments and blank lines are left out of the commands."""
    steps: list[CommandStep] = []
    label = ""
    commands: list[str] | None = None
    for line in iter_lines(markdown):
        if not line.in_code:
            text = line.text.strip()
            if text and heading_of(line) is None and not _SKIPPED_LINE.match(text):
                label = _inline_text(_LIST_MARKER.sub("", text)).rstrip(":")
            continue
        if commands is None:
            if _SHELL_FENCE.match(line.text):
                commands = []
            else:
                label = ""  # output or code, not a step: its lead-in is used up
        elif line.text.strip()[:3] in ("```", "~~~"):
            if commands:
                steps.append(CommandStep(label, tuple(commands)))
            commands, label = None, ""
        else:
            command = _PROMPT.sub("", line.text).strip()
            if command and not command.startswith("#"):
                commands.append(command)
    return steps


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


def _blocks(markdown: str) -> Iterator[tuple[str, bool, bool]]:
    """Paragraphs and list items as single-line strings, with whether each is an item and
    whether it is a numbered one."""
    lines: list[str] = []
    in_list = numbered = False
    for line in iter_lines(markdown):
        text = line.text
        skip = line.in_code or heading_of(line) is not None or _SKIPPED_LINE.match(text)
        item = _LIST_MARKER.match(text) is not None
        if (skip or not text.strip() or item) and lines:
            yield " ".join(lines), in_list, numbered
            lines = []
        if skip or not text.strip():
            continue
        if not lines:
            in_list = item
            numbered = _NUMBERED.match(text) is not None
        lines.append(_QUOTE_MARKER.sub("", _LIST_MARKER.sub("", text)).strip())
    if lines:
        yield " ".join(lines), in_list, numbered


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

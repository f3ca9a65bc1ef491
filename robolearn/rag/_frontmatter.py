"""YAML frontmatter for Docusaurus lessons, without a YAML dependency.

The lessons use a small YAML subset: scalars (plain, single- and double-quoted, numbers,
booleans, null), block lists (``- item``), flow lists (``[a, b]``), flow maps, nested
mappings and ``|``/``>`` block scalars. That subset is parsed here; anything outside it is
skipped line by line instead of raising, because one odd lesson must not stop an ingest.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from types import MappingProxyType
from typing import Final, TypeAlias

import attrs

FrontmatterValue: TypeAlias = (
    "str | int | float | bool | list[FrontmatterValue] | dict[str, FrontmatterValue] | None"
)

_DELIMITER = "---"
_CLOSERS = frozenset({"---", "..."})
_KEY = re.compile(
    r"""^(?P<key>"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s#'"\[\]{},:-][^:]*?|-[^\s:][^:]*?)"""
    r"""[ \t]*:(?:[ \t]+(?P<rest>.*))?$"""
)
_INT = re.compile(r"^[-+]?\d+$")
_FLOAT = re.compile(r"^[-+]?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?$")
_NULLS = frozenset({"", "~", "null", "Null", "NULL"})
_TRUE = frozenset({"true", "True", "TRUE"})
_FALSE = frozenset({"false", "False", "FALSE"})
_MAX_DEPTH = 32
_BLOCK_SCALAR = re.compile(r"^(?P<style>[|>])[-+]?[1-9]?$")
_ESCAPES: Final = MappingProxyType(
    {
        "n": "\n",
        "t": "\t",
        "r": "\r",
        "0": "\0",
        '"': '"',
        "\\": "\\",
        "/": "/",
        " ": " ",
    }
)


def split_frontmatter(text: str) -> tuple[dict[str, FrontmatterValue], str]:
    """Split ``text`` into its frontmatter mapping and the Markdown body after it.

    Without a well-formed frontmatter block (a first line ``---`` and a closing ``---`` or
    ``...``), the mapping is empty and the body is the whole text. Malformed lines inside
    the block are ignored; this function never raises on content.
    """
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _DELIMITER:
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in _CLOSERS:
            return parse_yaml_subset(lines[1:index]), "".join(lines[index + 1 :])
    return {}, text


def parse_yaml_subset(lines: list[str]) -> dict[str, FrontmatterValue]:
    """Parse the YAML-subset mapping in ``lines``; a non-mapping document gives ``{}``."""
    parsed = _Parser([_Line.of(raw) for raw in lines]).parse_document()
    return parsed if isinstance(parsed, dict) else {}


@attrs.frozen
class _Line:
    indent: int
    text: str  # without indentation and line break; "" for blank lines

    @classmethod
    def of(cls, raw: str) -> _Line:
        # YAML forbids tabs for indentation; hand-edited files use them anyway.
        expanded = raw.rstrip("\r\n").expandtabs(2)
        content = expanded.lstrip(" ")
        return cls(indent=len(expanded) - len(content), text=content.rstrip())

    @property
    def skippable(self) -> bool:
        return not self.text or self.text.startswith("#")

    @property
    def is_list_item(self) -> bool:
        return self.text == "-" or self.text.startswith("- ")


@attrs.define
class _Parser:
    """Recursive descent over indentation; owns its cursor for one parse only."""

    lines: list[_Line]
    pos: int = 0
    depth: int = 0

    def parse_document(self) -> FrontmatterValue:
        line = self._peek()
        return None if line is None else self._parse_node(line.indent)

    def _peek(self) -> _Line | None:
        while self.pos < len(self.lines) and self.lines[self.pos].skippable:
            self.pos += 1
        return self.lines[self.pos] if self.pos < len(self.lines) else None

    def _parse_node(self, indent: int) -> FrontmatterValue:
        line = self._peek()
        if line is None or line.indent < indent:
            return None
        if self.depth >= _MAX_DEPTH:
            # Real frontmatter nests a level or two; absurd nesting is skipped, not recursed.
            while (line := self._peek()) is not None and line.indent >= indent:
                self.pos += 1
            return None
        self.depth += 1
        try:
            return self._parse_block(line)
        finally:
            self.depth -= 1

    def _parse_block(self, line: _Line) -> FrontmatterValue:
        if line.is_list_item:
            return self._parse_list(line.indent)
        if _KEY.match(line.text):
            return self._parse_map(line.indent)
        self.pos += 1
        return _parse_inline(self._continue_plain(line.text, line.indent - 1))

    def _parse_map(self, indent: int) -> dict[str, FrontmatterValue]:
        result: dict[str, FrontmatterValue] = {}
        while (line := self._peek()) is not None and line.indent >= indent:
            self.pos += 1
            match = _KEY.match(line.text) if line.indent == indent else None
            if match is None:
                continue  # malformed or stray over-indented line: skip it, keep the rest
            result[_unquote_key(match["key"])] = self._parse_value(match["rest"] or "", indent)
        return result

    def _parse_list(self, indent: int) -> list[FrontmatterValue]:
        items: list[FrontmatterValue] = []
        while (line := self._peek()) is not None and line.indent >= indent:
            if line.indent > indent or not line.is_list_item:
                if line.indent == indent:
                    break  # a sibling key ends a list written at the key's own indent
                self.pos += 1
                continue
            content = line.text[1:].lstrip(" ")
            if not content:
                self.pos += 1
                nested = self._peek()
                items.append(
                    self._parse_node(nested.indent)
                    if nested is not None and nested.indent > indent
                    else None
                )
            elif _KEY.match(content) and content[0] not in "\"'":
                # "- key: value" starts a mapping whose keys align with "key".
                item_indent = indent + len(line.text) - len(content)
                self.lines[self.pos] = _Line(indent=item_indent, text=content)
                items.append(self._parse_map(item_indent))
            else:
                self.pos += 1
                items.append(_parse_inline(self._continue_plain(content, indent)))
        return items

    def _parse_value(self, rest: str, indent: int) -> FrontmatterValue:
        rest = _strip_comment(rest)
        block = _BLOCK_SCALAR.match(rest)
        if block:
            return self._block_scalar(indent, folded=block["style"] == ">")
        if rest:
            return _parse_inline(self._continue_plain(rest, indent))
        line = self._peek()
        if line is None:
            return None
        if line.indent > indent:
            return self._parse_node(line.indent)
        if line.indent == indent and line.is_list_item:
            return self._parse_list(indent)
        return None

    def _continue_plain(self, first: str, indent: int) -> str:
        """Join continuation lines (deeper than ``indent``) of a multi-line scalar."""
        if first.startswith(("[", "{")):
            return first
        parts = [first]
        quote = first[0] if first[0] in "\"'" else ""
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.text and line.indent <= indent:
                break
            if not quote and line.text and (_KEY.match(line.text) or line.is_list_item):
                break
            if quote and _closed(" ".join(parts)):
                break
            self.pos += 1
            if line.text:
                parts.append(line.text)
        return " ".join(parts)

    def _block_scalar(self, indent: int, *, folded: bool) -> str:
        collected: list[str] = []
        block_indent: int | None = None
        while self.pos < len(self.lines):
            line = self.lines[self.pos]
            if line.text and line.indent <= indent:
                break
            self.pos += 1
            if not line.text:
                collected.append("")
                continue
            if block_indent is None:
                block_indent = line.indent
            collected.append(" " * max(0, line.indent - block_indent) + line.text)
        while collected and not collected[-1]:
            collected.pop()
        if not folded:
            return "\n".join(collected) + "\n" if collected else ""
        paragraphs: list[str] = []
        current: list[str] = []
        for item in collected:
            if item:
                current.append(item)
            else:
                paragraphs.append(" ".join(current))
                current = []
        paragraphs.append(" ".join(current))
        return "\n".join(paragraphs).strip("\n") + "\n" if collected else ""


def _closed(text: str) -> bool:
    try:
        _read_quoted(text, 0)
    except _Unterminated:
        return False
    return True


class _Unterminated(Exception):
    pass


def _read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read a quoted scalar starting at ``text[start]``; return it and the index after."""
    quote = text[start]
    out: list[str] = []
    index = start + 1
    while index < len(text):
        char = text[index]
        if quote == "'" and char == "'":
            if text.startswith("''", index):
                out.append("'")
                index += 2
                continue
            return "".join(out), index + 1
        if quote == '"' and char == '"':
            return "".join(out), index + 1
        if quote == '"' and char == "\\" and index + 1 < len(text):
            escape = text[index + 1]
            if escape in "uUx":
                width = {"x": 2, "u": 4, "U": 8}[escape]
                digits = text[index + 2 : index + 2 + width]
                if len(digits) == width and all(c in "0123456789abcdefABCDEF" for c in digits):
                    code = int(digits, 16)
                    out.append(chr(code) if code <= 0x10FFFF else "\ufffd")
                    index += 2 + width
                    continue
            out.append(_ESCAPES.get(escape, "\\" + escape))
            index += 2
            continue
        out.append(char)
        index += 1
    raise _Unterminated


def _strip_comment(text: str) -> str:
    if text.startswith(("'", '"', "[", "{")):
        return text.strip()
    if text.startswith("#"):
        return ""
    return re.split(r"[ \t]#", text, maxsplit=1)[0].strip()


def _unquote_key(key: str) -> str:
    if key[:1] in ("'", '"'):
        try:
            return _read_quoted(key, 0)[0]
        except _Unterminated:
            return key
    return key


def _parse_inline(text: str) -> FrontmatterValue:
    text = text.strip()
    if text[:1] in ("'", '"'):
        try:
            return _read_quoted(text, 0)[0]
        except _Unterminated:
            return text  # keep what the author wrote rather than dropping it
    if text.startswith("[") or text.startswith("{"):
        parsed = _parse_flow(text)
        if parsed is not None:
            return parsed
    return _plain_scalar(_strip_comment(text))


def _plain_scalar(text: str) -> FrontmatterValue:
    if text in _NULLS:
        return None
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    if _INT.match(text):
        return int(text)
    if _FLOAT.match(text):
        return float(text)
    return text


def _parse_flow(text: str) -> list[FrontmatterValue] | dict[str, FrontmatterValue] | None:
    """Parse ``[a, b]`` or ``{k: v}``; None when brackets do not balance."""
    opener, closer = text[0], "]" if text[0] == "[" else "}"
    end = _matching_bracket(text)
    if end is None or text[end] != closer:
        return None
    parts = [part.strip() for part in _split_top_level(text[1:end])]
    parts = [part for part in parts if part]
    if opener == "[":
        return [_parse_inline(part) for part in parts]
    mapping: dict[str, FrontmatterValue] = {}
    for part in parts:
        match = _KEY.match(part)
        if match:
            mapping[_unquote_key(match["key"])] = _parse_inline(match["rest"] or "")
    return mapping


def _outside_quotes(text: str) -> Iterator[tuple[int, str]]:
    """Index and character of everything outside quoted strings; stops at an open quote."""
    index = 0
    while index < len(text):
        char = text[index]
        if char in "'\"":
            try:
                index = _read_quoted(text, index)[1]
            except _Unterminated:
                return
            continue
        yield index, char
        index += 1


def _matching_bracket(text: str) -> int | None:
    depth = 0
    for index, char in _outside_quotes(text):
        if char in "[{":
            depth += 1
            if depth > _MAX_DEPTH:
                return None
        elif char in "]}":
            depth -= 1
            if depth == 0:
                return index
    return None


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    depth = 0
    start = 0
    for index, char in _outside_quotes(text):
        if char in "[{":
            depth += 1
        elif char in "]}":
            depth -= 1
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts

"""YAML frontmatter of Docusaurus lessons, read with PyYAML.

The block between a first line ``---`` and the next ``---`` (or ``...``) is loaded with a
safe loader narrowed to the values a lesson's metadata is made of; a block that is not
valid YAML raises :class:`FrontmatterError`, so the caller can report that one file and
go on with the others.
"""

from __future__ import annotations

import re
from typing import TypeAlias

import attrs
import yaml

FrontmatterValue: TypeAlias = (
    "str | int | float | bool | list[FrontmatterValue] | dict[str, FrontmatterValue] | None"
)

_DELIMITER = "---"
_CLOSERS = frozenset({"---", "..."})
# Lesson metadata nests a level or two; anything far deeper, or an alias that expands
# into a huge value, is a broken or hostile file, not metadata to index.
_MAX_DEPTH = 32
_MAX_VALUES = 10_000


class FrontmatterError(ValueError):
    """A lesson's frontmatter block is not valid YAML (or not plain data)."""


class _LessonLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` with YAML 1.2's core scalars and JSON's types only.

    Downstream code reads metadata as text and numbers, and YAML 1.1's extra scalars
    would change what it reads: ``yes``/``on`` stay words, ``created: 2025-11-29`` stays
    text, ``010`` is ten (not octal eight), ``1:30`` is not ninety. Tags for other types
    (``!!binary``, ``!!set``, ``!!timestamp``) make the block invalid.
    """


# Which plain scalars are not text: YAML 1.2's core schema, decimal numbers only.
_SCALARS = (
    ("tag:yaml.org,2002:null", r"^(?:~|null|Null|NULL|)$", ["~", "n", "N", ""]),
    ("tag:yaml.org,2002:bool", r"^(?:true|True|TRUE|false|False|FALSE)$", list("tTfF")),
    ("tag:yaml.org,2002:int", r"^[-+]?[0-9]+$", list("-+0123456789")),
    (
        "tag:yaml.org,2002:float",
        r"^[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?$",
        list("-+.0123456789"),
    ),
)
_TAGS = frozenset(
    {
        "tag:yaml.org,2002:null",
        "tag:yaml.org,2002:bool",
        "tag:yaml.org,2002:float",
        "tag:yaml.org,2002:str",
        "tag:yaml.org,2002:seq",
        "tag:yaml.org,2002:map",
    }
)

_LessonLoader.yaml_implicit_resolvers = {}
for _tag, _pattern, _first in _SCALARS:
    _LessonLoader.add_implicit_resolver(_tag, re.compile(_pattern), _first)
# Without a constructor, any other tag hits PyYAML's "could not determine a constructor".
_LessonLoader.yaml_constructors = {
    tag: constructor
    for tag, constructor in yaml.SafeLoader.yaml_constructors.items()
    if tag in _TAGS or tag is None
}


def _decimal_int(loader: yaml.SafeLoader, node: yaml.ScalarNode) -> int:
    # SafeLoader reads "010" as octal; the resolver above lets through decimal digits only
    # (an explicit "!!int" may not: its ValueError is reported like a YAML error).
    return int(loader.construct_scalar(node))


_LessonLoader.add_constructor("tag:yaml.org,2002:int", _decimal_int)


def split_frontmatter(text: str) -> tuple[dict[str, FrontmatterValue], str]:
    """Split ``text`` into its frontmatter mapping and the Markdown body after it.

    Without a frontmatter block (a first line ``---`` and a closing ``---`` or ``...``),
    the mapping is empty and the body is the whole text; so it is when the block holds
    no mapping (nothing, a list, a lone scalar). Keys are text, as in the JavaScript
    object Docusaurus builds. Raises :class:`FrontmatterError` when the block is not
    valid YAML.
    """
    text = text.removeprefix("\ufeff")
    lines = text.splitlines(keepends=True)
    if not lines or lines[0].rstrip() != _DELIMITER:
        return {}, text
    for index in range(1, len(lines)):
        if lines[index].rstrip() in _CLOSERS:
            return _load("".join(lines[1:index])), "".join(lines[index + 1 :])
    return {}, text


def _load(block: str) -> dict[str, FrontmatterValue]:
    try:
        document = yaml.load(block, Loader=_LessonLoader)
    except yaml.MarkedYAMLError as exc:
        raise FrontmatterError(f"invalid YAML frontmatter: {_describe(exc)}") from None
    except yaml.YAMLError as exc:
        raise FrontmatterError(f"invalid YAML frontmatter: {exc}") from None
    except (ValueError, KeyError):
        # PyYAML's constructors raise these for an explicit tag whose text does not fit
        # it ("!!int ten", "!!bool maybe").
        raise FrontmatterError(
            "invalid YAML frontmatter: a tagged value does not fit its tag"
        ) from None
    except RecursionError:
        # PyYAML composes nodes recursively; a block nested thousands deep ends here.
        raise FrontmatterError("invalid YAML frontmatter: nested too deeply") from None
    if not isinstance(document, dict):
        return {}
    return _Converter().mapping(document, depth=0)


def _describe(error: yaml.MarkedYAMLError) -> str:
    """PyYAML's context and problem, each with its line in the file, not in the block."""
    parts: list[str] = []
    for text, mark in ((error.context, error.context_mark), (error.problem, error.problem_mark)):
        if text:
            # Marks count from 0 within the block; the file has the opening "---" above it.
            parts.append(f"{text} (line {mark.line + 2})" if mark is not None else text)
    return ", ".join(parts) or "unreadable"


@attrs.define
class _Converter:
    """Checks a loaded document is plain, bounded data and makes its keys text.

    Counts the values it has seen, for one document only: aliases let a few lines
    stand for millions of values.
    """

    values: int = 0

    def mapping(self, mapping: dict[object, object], *, depth: int) -> dict[str, FrontmatterValue]:
        return {_key(key): self.value(value, depth=depth + 1) for key, value in mapping.items()}

    def value(self, value: object, *, depth: int) -> FrontmatterValue:
        self.values += 1
        if depth > _MAX_DEPTH:
            raise FrontmatterError("invalid YAML frontmatter: nested too deeply")
        if self.values > _MAX_VALUES:
            raise FrontmatterError("invalid YAML frontmatter: too many values")
        if isinstance(value, dict):
            return self.mapping(value, depth=depth)
        if isinstance(value, list):
            return [self.value(item, depth=depth + 1) for item in value]
        if value is None or isinstance(value, str | int | float | bool):
            return value
        # The loader constructs no other types; this guards a PyYAML change.
        raise FrontmatterError(f"invalid YAML frontmatter: unexpected {type(value).__name__}")


def _key(key: object) -> str:
    # Keys come from the same resolver as values: "1:" is the int 1, "true:" the bool.
    if isinstance(key, bool):
        return "true" if key else "false"
    if key is None:
        return "null"
    if isinstance(key, str | int | float):
        return str(key)
    raise FrontmatterError(f"invalid YAML frontmatter: a {type(key).__name__} as a key")

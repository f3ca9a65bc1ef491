"""Docusaurus docs tree → :class:`Lesson` values (path, numbering, title, public URL).

URLs follow Docusaurus as the textbook site serves them: ``{site}/docs/{dirs}/{id}``
where the frontmatter ``id`` replaces the file name; a README/index page is served as
its folder; a file without ``id`` keeps its name minus any numeric prefix
(``03-topics.md`` → ``topics``). Folder names are kept as they are.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterator
from pathlib import Path, PurePosixPath

import attrs

from robolearn.rag._frontmatter import FrontmatterError, FrontmatterValue, split_frontmatter
from robolearn.rag._markdown import first_h1

_log = logging.getLogger("robolearn.rag")

DOC_SUFFIXES = frozenset({".md", ".mdx"})
# Docusaurus' number-prefix rule: "01-intro", "1_intro", "01. intro" → "intro"; names
# that look like dates or versions ("2021-11-notes", "7.0-notes") are left alone.
_NUMBER_PREFIX = re.compile(r"^(?P<number>\d+)\s*[-_.]+\s*(?=[^-_.\s])")
_NOT_A_NUMBER_PREFIX = re.compile(r"^\d+[-_.]\d+")
# "module-1-ros2", "chapter-10-x", "03-topics": an optional word then the number.
_NUMBERED_NAME = re.compile(r"^(?:[A-Za-z]+[-_ ])?(?P<number>\d+)(?:$|[-_. ])")
_INDEX_STEMS = frozenset({"readme", "index"})


@attrs.frozen
class Lesson:
    """One page of the book, as plain values that can be stored as a row.

    ``path`` is the POSIX path relative to the docs root and identifies the page.
    ``module``/``chapter``/``lesson`` come from the numbers in the folder and file names
    (``module-1-ros2/chapter-2-x/03-topics.md`` → 1, 2, 3) and are None when absent, e.g.
    ``lesson`` for a chapter README. ``content_hash`` is the sha256 of the file bytes, so
    an ingest can skip unchanged pages.
    """

    path: str
    doc_id: str
    title: str
    url: str
    module: int | None
    chapter: int | None
    lesson: int | None
    hardware_tier: int | None
    is_index: bool
    description: str
    learning_objectives: tuple[str, ...]
    body: str
    content_hash: str


def read_lessons(root: str | Path, *, site_url: str) -> list[Lesson]:
    """Read every ``.md``/``.mdx`` page under ``root`` (sorted by path).

    Files and folders starting with ``_`` or ``.`` are skipped, as Docusaurus does for
    partials and hidden files. A page whose frontmatter is not valid YAML is logged with
    its path and left out: one broken page must not stop the rest of the book loading.
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"docs root {str(root)!r} is not a directory")
    lessons: list[Lesson] = []
    for path in sorted(_iter_doc_files(root), key=lambda p: p.relative_to(root).as_posix()):
        relative = path.relative_to(root).as_posix()
        try:
            lessons.append(parse_lesson(relative, path.read_bytes(), site_url=site_url))
        except FrontmatterError as exc:
            _log.warning("skipping %s: %s", path, exc)
    return lessons


def _iter_doc_files(root: Path) -> Iterator[Path]:
    for path in root.rglob("*"):
        relative = path.relative_to(root)
        if any(part.startswith(("_", ".")) for part in relative.parts):
            continue
        if path.is_file() and path.suffix.lower() in DOC_SUFFIXES:
            yield path


def parse_lesson(path: str, raw: bytes, *, site_url: str) -> Lesson:
    """Build a :class:`Lesson` from its docs-relative ``path`` and file bytes (no I/O).

    Raises :class:`FrontmatterError` when the page's frontmatter is not valid YAML.
    """
    pure = PurePosixPath(path)
    text = raw.decode("utf-8", errors="replace")
    meta, body = split_frontmatter(text)
    dirs = pure.parts[:-1]
    is_index = is_index_page(path)
    doc_id = _text(meta.get("id")) or _strip_number_prefix(pure.stem)
    return Lesson(
        path=pure.as_posix(),
        doc_id=doc_id,
        title=_text(meta.get("title")) or first_h1(body) or pure.stem,
        url=lesson_url(
            path, site_url=site_url, doc_id=_text(meta.get("id")), slug=_text(meta.get("slug"))
        ),
        module=_name_number(dirs[0]) if len(dirs) >= 1 else None,
        chapter=_name_number(dirs[1]) if len(dirs) >= 2 else None,
        lesson=None if is_index else _name_number(pure.stem),
        hardware_tier=_int(meta.get("hardware_tier")),
        is_index=is_index,
        description=_text(meta.get("description")) or "",
        learning_objectives=_texts(meta.get("learning_objectives")),
        body=body,
        content_hash=hashlib.sha256(raw).hexdigest(),
    )


def is_index_page(path: str) -> bool:
    """Whether Docusaurus serves ``path`` as its folder (README, index, or folder-named)."""
    pure = PurePosixPath(path)
    stem = pure.stem.lower()
    return stem in _INDEX_STEMS or (len(pure.parts) > 1 and pure.stem == pure.parts[-2])


def lesson_url(
    path: str, *, site_url: str, doc_id: str | None = None, slug: str | None = None
) -> str:
    """The public URL Docusaurus gives the page at docs-relative ``path``.

    ``doc_id`` is the frontmatter ``id``; ``slug`` the frontmatter ``slug``, which wins
    when present (absolute slugs start at the docs root, relative ones replace the name).
    """
    pure = PurePosixPath(path)
    dirs = list(pure.parts[:-1])
    base = site_url.rstrip("/") + "/docs"
    if slug:
        segments = [slug.strip("/")] if slug.startswith("/") else [*dirs, slug.strip("/")]
    elif is_index_page(path):
        segments = dirs
    else:
        segments = [*dirs, doc_id or _strip_number_prefix(pure.stem)]
    return "/".join([base, *(segment for segment in segments if segment)])


def _strip_number_prefix(name: str) -> str:
    if _NOT_A_NUMBER_PREFIX.match(name):
        return name
    return _NUMBER_PREFIX.sub("", name, count=1)


def _name_number(name: str) -> int | None:
    match = _NUMBERED_NAME.match(name)
    return int(match["number"]) if match else None


def _text(value: FrontmatterValue) -> str | None:
    if value is None or isinstance(value, (list, dict)):
        return None
    if isinstance(value, bool):
        return str(value).lower()
    text = str(value).strip()
    return text or None


def _texts(value: FrontmatterValue) -> tuple[str, ...]:
    if isinstance(value, list):
        return tuple(text for item in value if (text := _text(item)) is not None)
    text = _text(value)
    return (text,) if text is not None else ()


def _int(value: FrontmatterValue) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().isdigit():
        return int(value.strip())
    return None

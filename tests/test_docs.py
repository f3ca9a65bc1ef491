"""The docs stay true: the README's settings tables are the declared ones, and links resolve."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from robolearn.config import settings_markdown

ROOT = Path(__file__).resolve().parent.parent
README = ROOT / "README.md"
DOCS = [README, *sorted((ROOT / "docs").glob("*.md"))]

_BEGIN = "<!-- settings: generated from robolearn/config.py"
_END = "<!-- end of settings -->"
_FENCE = re.compile(r"^(```|~~~).*?^\1[^\n]*$", re.MULTILINE | re.DOTALL)
_LINK = re.compile(r"\]\(([^()\s]+)\)")
_HEADING = re.compile(r"^#{1,6}\s+(.+?)\s*$", re.MULTILINE)


def test_readme_settings_tables_are_the_declared_settings() -> None:
    text = README.read_text("utf-8")
    begin = text.index(_BEGIN)
    block = text[text.index("\n", begin) + 1 : text.index(_END)]
    assert block.strip() == settings_markdown().strip(), (
        "README.md's settings tables differ from robolearn/config.py: replace the block "
        "between the settings markers with the output of `python -m robolearn.config`"
    )


@pytest.mark.parametrize("doc", DOCS, ids=lambda path: path.relative_to(ROOT).as_posix())
def test_relative_links_resolve(doc: Path) -> None:
    broken = []
    for target in _LINK.findall(_FENCE.sub("", doc.read_text("utf-8"))):
        if re.match(r"[a-z][a-z0-9+.-]*:", target):  # https:, mailto: ...
            continue
        path, _, anchor = target.partition("#")
        linked = (doc.parent / path).resolve() if path else doc
        missing = not linked.exists()
        if missing or (anchor and linked.suffix == ".md" and anchor not in _anchors(linked)):
            broken.append(target)
    assert broken == [], f"{doc.name} links to what does not exist: {broken}"


def _anchors(doc: Path) -> set[str]:
    """The ids GitHub gives the headings of ``doc``."""
    anchors: set[str] = set()
    for heading in _HEADING.findall(_FENCE.sub("", doc.read_text("utf-8"))):
        slug = re.sub(r"[^\w\- ]", "", heading.lower()).replace(" ", "-")
        candidate, n = slug, 0
        while candidate in anchors:
            n += 1
            candidate = f"{slug}-{n}"
        anchors.add(candidate)
    return anchors

"""http depends on what is below it, never on the composition root that builds it, and only
on the public names of the chat package."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

import robolearn.http

HTTP = Path(robolearn.http.__file__).parent
MODULES = sorted(HTTP.glob("*.py"))


def _imported(path: Path) -> set[str]:
    """Every module ``path`` imports, and every name it takes from ``robolearn.chat``."""
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text("utf-8"))):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            names.add(node.module)
            names.update(f"{node.module}.{alias.name}" for alias in node.names)
    return names


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_http_does_not_import_the_composition_root(path: Path) -> None:
    imported = _imported(path)
    assert not {name for name in imported if name.startswith("robolearn.services")}


@pytest.mark.parametrize("path", MODULES, ids=lambda path: path.name)
def test_http_uses_only_public_names_of_chat(path: Path) -> None:
    private = {
        name
        for name in _imported(path)
        if name.startswith("robolearn.chat.") and name.split(".")[2].startswith("_")
    }
    assert not private

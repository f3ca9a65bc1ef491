"""Serving setup: the collector (startup heap frozen, collections rarer) and access logs."""

from __future__ import annotations

import gc
import logging
import weakref
from collections.abc import Iterator
from importlib import resources
from pathlib import Path

import pytest

from robolearn.serve import GC_THRESHOLDS, hypercorn_config, tune_gc_for_serving


class _Node:
    def __init__(self) -> None:
        self.peer: _Node | None = None


@pytest.fixture
def thawed() -> Iterator[None]:
    thresholds = gc.get_threshold()
    gc.unfreeze()
    yield
    gc.unfreeze()
    gc.set_threshold(*thresholds)


def test_freeze_collects_garbage_first_then_freezes_the_survivors(thawed: None) -> None:
    kept, dropped = _Node(), _Node()
    dropped.peer, kept.peer = dropped, _Node()
    gone = weakref.ref(dropped)
    del dropped  # a cycle only the collector can free: frozen, it would leak for good

    frozen = tune_gc_for_serving()

    assert gone() is None
    # At most: an object frozen here that another thread of the test session (the stand-in
    # provider's) frees at once leaves the permanent generation again.
    assert 0 < gc.get_freeze_count() <= frozen
    assert not any(obj is kept for obj in gc.get_objects())  # out of every generation
    assert gc.get_threshold() == GC_THRESHOLDS


@pytest.mark.parametrize(("level", "logged"), [(logging.INFO, True), (logging.WARNING, False)])
def test_access_lines_go_through_our_logger_only_when_they_would_be_written(
    level: int, logged: bool
) -> None:
    access = logging.getLogger("hypercorn.access")
    before = access.level
    access.setLevel(level)
    try:
        config = hypercorn_config("127.0.0.1:0")
    finally:
        access.setLevel(before)
    assert (config.accesslog is access) is logged
    assert (config.accesslog is None) is not logged


def test_hypercorn_settings_come_from_the_toml_shipped_in_the_package(tmp_path: Path) -> None:
    assert resources.files("robolearn").joinpath("hypercorn.toml").is_file()
    config = hypercorn_config("127.0.0.1:0")
    assert (config.backlog, config.bind) == (2048, ["127.0.0.1:0"])
    own = tmp_path / "hypercorn.toml"
    own.write_text("backlog = 10\n")
    assert hypercorn_config("127.0.0.1:0", own).backlog == 10

"""Ids are matched whole: a trailing newline makes another id, which is refused."""

from __future__ import annotations

import pytest

from robolearn.store import check_id
from robolearn.store._errors import InvalidStoreInput


@pytest.mark.parametrize("value", ["thr_1\n", "thr_1\r\n", "\nthr_1", "", "thr 1", "x" * 129])
def test_malformed_ids_are_refused(value: str) -> None:
    with pytest.raises(InvalidStoreInput):
        check_id("thread id", value)


@pytest.mark.parametrize("value", ["thr_1", "msg_abc-1.2:3", "x" * 128])
def test_well_formed_ids_pass(value: str) -> None:
    check_id("thread id", value)

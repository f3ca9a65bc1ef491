"""merge_thread: a writer's changes land only where nobody changed the field meanwhile."""

from __future__ import annotations

import pytest
from chatkit.store import NotFoundError

from robolearn.store import PostgresStore

from ._factories import ALICE, BOB, thread


async def test_changes_apply_where_the_field_is_as_expected(store: PostgresStore) -> None:
    await store.save_thread(thread("thr_m"), ALICE)
    renamed = await store.merge_thread("thr_m", {"title": "Renamed"}, None, ALICE)
    assert renamed.title == "Renamed"
    # A turn that read the old title and wants to change title and metadata: the rename
    # stays, the metadata changes.
    merged = await store.merge_thread(
        "thr_m",
        {"title": "From the turn", "metadata": {"page": "topics"}},
        {"title": "Test Thread", "metadata": {"test": "test"}},
        ALICE,
    )
    assert merged.title == "Renamed"
    assert merged.metadata == {"page": "topics"}
    assert (await store.load_thread("thr_m", ALICE)) == merged


async def test_an_unchanged_field_takes_the_new_value(store: PostgresStore) -> None:
    await store.save_thread(thread("thr_n"), ALICE)
    merged = await store.merge_thread(
        "thr_n", {"title": "Model title"}, {"title": "Test Thread"}, ALICE
    )
    assert merged.title == "Model title"


async def test_another_users_thread_is_not_found(store: PostgresStore) -> None:
    await store.save_thread(thread("thr_o"), ALICE)
    with pytest.raises(NotFoundError):
        await store.merge_thread("thr_o", {"title": "x"}, None, BOB)
    with pytest.raises(NotFoundError):
        await store.merge_thread("thr_missing", {"title": "x"}, None, ALICE)
    assert (await store.load_thread("thr_o", ALICE)).title == "Test Thread"

"""Attachment bytes: exact single uploads."""

from __future__ import annotations

import pytest
import trio
from chatkit.types import FileAttachment

from robolearn.store import (
    BlobStore,
    InvalidStoreInput,
    NotFoundError,
    PostgresStore,
    UploadConflict,
)

from ._factories import ALICE, BOB


@pytest.fixture
def blobs(store: PostgresStore) -> BlobStore:
    return BlobStore(store)


async def test_an_upload_is_exactly_the_announced_bytes_once(blobs: BlobStore) -> None:
    await blobs.announce("atc_a", "text/plain", 5, ALICE)
    slot = await blobs.open_slot("atc_a", ALICE)
    assert (slot.mime_type, slot.declared_size) == ("text/plain", 5)
    with pytest.raises(InvalidStoreInput, match="announced with 5 bytes, not 6"):
        await blobs.upload("atc_a", b"123456", ALICE)
    with pytest.raises(NotFoundError):
        await blobs.upload("atc_a", b"12345", BOB)
    assert await blobs.upload("atc_a", b"12345", ALICE) == "text/plain"
    for attempt in (blobs.open_slot("atc_a", ALICE), blobs.upload("atc_a", b"54321", ALICE)):
        with pytest.raises(UploadConflict) as conflict:
            await attempt
        assert conflict.value.code == "already_uploaded"
    assert (await blobs.load("atc_a", ALICE)).data == b"12345"


async def test_racing_uploads_store_one_of_them(blobs: BlobStore) -> None:
    await blobs.announce("atc_a", "text/plain", 3, ALICE)
    outcomes: list[str] = []

    async def upload(data: bytes) -> None:
        try:
            await blobs.upload("atc_a", data, ALICE)
            outcomes.append("stored")
        except UploadConflict:
            outcomes.append("refused")

    async with trio.open_nursery() as nursery:
        for data in (b"aaa", b"bbb", b"ccc", b"ddd"):
            nursery.start_soon(upload, data)
    assert sorted(outcomes) == ["refused"] * 3 + ["stored"]


async def test_a_slot_in_use_takes_no_upload(blobs: BlobStore, store: PostgresStore) -> None:
    await blobs.announce("atc_a", "text/plain", 3, ALICE)
    used = FileAttachment(id="atc_a", name="a.txt", mime_type="text/plain", thread_id="thr_x")
    await store.save_attachment(used, ALICE)
    with pytest.raises(UploadConflict) as conflict:
        await blobs.upload("atc_a", b"abc", ALICE)
    assert conflict.value.code == "attachment_in_use"

"""Attachment bytes: quotas, exact single uploads, expiring slots, deletion with their thread."""

from __future__ import annotations

import logging

import psycopg
import pytest
import trio
from chatkit.types import FileAttachment, UserMessageItem

from robolearn.store import (
    BlobLimits,
    BlobStore,
    InvalidStoreInput,
    LimitExceeded,
    NotFoundError,
    PostgresStore,
    StoreUnavailable,
    UploadConflict,
)

from ._factories import ALICE, BOB, thread, user_message


@pytest.fixture
def blobs(store: PostgresStore) -> BlobStore:
    return BlobStore(store, BlobLimits(bytes_per_user=100, slot_ttl=3600))


def age_slots(database_url: str, *ids: str) -> None:
    """Make slots two hours old: expired, without waiting for it."""
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE attachment_blobs SET created_at = now() - interval '2 hours'"
            " WHERE id = ANY(%s)",
            (list(ids),),
        )


def blob_ids(database_url: str) -> set[str]:
    with psycopg.connect(database_url) as conn:
        return {row[0] for row in conn.execute("SELECT id FROM attachment_blobs")}


async def uploaded(blobs: BlobStore, attachment_id: str, data: bytes, who: object = ALICE) -> None:
    await blobs.announce(attachment_id, "text/plain", len(data), who)  # type: ignore[arg-type]
    await blobs.upload(attachment_id, data, who)  # type: ignore[arg-type]


async def test_quota_counts_announced_and_uploaded_bytes_per_user(blobs: BlobStore) -> None:
    await uploaded(blobs, "atc_a", b"x" * 40)
    await blobs.announce("atc_b", "text/plain", 50, ALICE)  # announced, not uploaded
    with pytest.raises(LimitExceeded) as refused:
        await blobs.announce("atc_c", "text/plain", 11, ALICE)
    assert refused.value.code == "attachment_quota_exceeded"
    assert "100 bytes per user" in str(refused.value)
    await blobs.announce("atc_c", "text/plain", 10, ALICE)  # exactly full
    await blobs.announce("atc_bob", "text/plain", 100, BOB)  # another user's quota
    await blobs.delete("atc_a", ALICE)
    await blobs.announce("atc_d", "text/plain", 40, ALICE)


async def test_concurrent_announces_cannot_overshoot_the_quota(blobs: BlobStore) -> None:
    refused = 0

    async def announce(n: int) -> None:
        nonlocal refused
        try:
            await blobs.announce(f"atc_{n}", "text/plain", 30, ALICE)
        except LimitExceeded:
            refused += 1

    async with trio.open_nursery() as nursery:
        for n in range(8):
            nursery.start_soon(announce, n)
    assert refused == 5  # 3 x 30 fit in 100


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


async def test_expired_slots_stop_counting_and_are_swept(
    blobs: BlobStore, store: PostgresStore, database_url: str
) -> None:
    await blobs.announce("atc_old", "text/plain", 90, ALICE)
    await store.save_attachment(
        FileAttachment(id="atc_old", name="old.txt", mime_type="text/plain"), ALICE
    )
    await uploaded(blobs, "atc_kept", b"x" * 5)
    await blobs.announce("atc_bobs", "text/plain", 90, BOB)
    age_slots(database_url, "atc_old", "atc_kept", "atc_bobs")
    with pytest.raises(NotFoundError, match="expired"):
        await blobs.open_slot("atc_old", ALICE)
    with pytest.raises(NotFoundError):
        await blobs.upload("atc_old", b"x" * 90, ALICE)
    # Alice's next announce sweeps her expired slots (and chatkit's rows for them) first.
    await blobs.announce("atc_new", "text/plain", 90, ALICE)
    assert blob_ids(database_url) == {"atc_kept", "atc_new", "atc_bobs"}
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_old", ALICE)
    # The periodic sweep takes everyone's; uploaded bytes never expire.
    assert await blobs.sweep_expired() == 1
    assert blob_ids(database_url) == {"atc_kept", "atc_new"}


async def test_the_periodic_sweep_survives_a_failing_database(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sweeps: list[float] = []

    class FlakySweeps(BlobStore):
        async def sweep_expired(self, context: object = None) -> int:
            sweeps.append(trio.current_time())
            if len(sweeps) == 2:
                raise StoreUnavailable("down")
            return 1

    flaky = FlakySweeps(store=None)  # type: ignore[arg-type]
    with trio.move_on_after(35):
        await flaky.sweep_periodically(10)
    assert sweeps == [10, 20, 30]


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


async def test_deleting_a_thread_deletes_the_attachments_only_it_used(
    blobs: BlobStore, store: PostgresStore, database_url: str
) -> None:
    for attachment_id in ("atc_only", "atc_shared", "atc_unused"):
        await uploaded(blobs, attachment_id, b"x")
        await store.save_attachment(
            FileAttachment(id=attachment_id, name="a.txt", mime_type="text/plain"), ALICE
        )
    await uploaded(blobs, "atc_bobs", b"x", BOB)

    def carrying(item_id: str, thread_id: str, *ids: str) -> UserMessageItem:
        attachments = [
            FileAttachment(id=i, name="a.txt", mime_type="text/plain", thread_id=thread_id)
            for i in ids
        ]
        return user_message(item_id, thread_id=thread_id).model_copy(
            update={"attachments": attachments}
        )

    await store.save_thread(thread("thr_doomed"), ALICE)
    await store.save_thread(thread("thr_other"), ALICE)
    await store.add_thread_item(
        "thr_doomed", carrying("msg_1", "thr_doomed", "atc_only", "atc_shared"), ALICE
    )
    await store.add_thread_item("thr_doomed", carrying("msg_2", "thr_doomed", "atc_only"), ALICE)
    await store.add_thread_item("thr_other", carrying("msg_3", "thr_other", "atc_shared"), ALICE)
    await store.save_thread(thread("thr_bob"), BOB)
    await store.add_thread_item("thr_bob", carrying("msg_4", "thr_bob", "atc_only"), BOB)

    await store.delete_thread("thr_doomed", BOB)  # not bob's: nothing happens
    assert "atc_only" in blob_ids(database_url)

    await store.delete_thread("thr_doomed", ALICE)
    assert blob_ids(database_url) == {"atc_shared", "atc_unused", "atc_bobs"}
    with pytest.raises(NotFoundError):
        await store.load_attachment("atc_only", ALICE)
    assert (await store.load_attachment("atc_shared", ALICE)).id == "atc_shared"
    assert await store.count_threads(ALICE) == 1


async def test_a_big_transfer_gives_its_connection_back_as_a_new_one(
    store: PostgresStore, caplog: pytest.LogCaptureFixture
) -> None:
    blobs = BlobStore(store)
    # libpq keeps a connection's buffers as big as the biggest message it carried: a pooled
    # connection that moved an attachment would hold its size for good.
    big = b"x" * (2 << 20)
    await blobs.announce("atc_big", "text/plain", len(big), ALICE)
    with caplog.at_level(logging.INFO, logger="psycopg.pool"):
        await blobs.upload("atc_big", big, ALICE)
        assert (await blobs.load("atc_big", ALICE)).data == big
    assert store.pool_stats()["returns_bad"] >= 2
    assert "discarding closed connection" not in caplog.text  # on purpose: no warning
    # Small ones keep theirs.
    await uploaded(blobs, "atc_small", b"small")
    bad = store.pool_stats()["returns_bad"]
    await blobs.load("atc_small", ALICE)
    assert store.pool_stats()["returns_bad"] == bad

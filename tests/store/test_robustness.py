"""Concurrency, bad input, migrations, restarts and a missing database."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest
import trio
from chatkit.types import AssistantMessageContent, AssistantMessageItem

from robolearn.store import (
    EmbeddedPostgres,
    InvalidStoreInput,
    PayloadTooLarge,
    PostgresStore,
    StoreLimits,
    StoreUnavailable,
    apply_migrations,
    load_migrations,
    open_store,
)

from ._factories import ALICE, thread, user_message


async def test_concurrent_writers_lose_nothing_and_keep_order(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    writers, per_writer = 50, 4

    async def write(writer: int) -> None:
        for n in range(per_writer):
            await store.add_thread_item("thr_test", user_message(f"msg_w{writer}_{n}"), ALICE)

    async with trio.open_nursery() as nursery:
        for writer in range(writers):
            nursery.start_soon(write, writer)

    page = await store.load_thread_items("thr_test", None, 1000, "asc", ALICE)
    ids = [item.id for item in page.data]
    assert len(ids) == len(set(ids)) == writers * per_writer
    for writer in range(writers):
        mine = [i for i in ids if i.startswith(f"msg_w{writer}_")]
        assert mine == [f"msg_w{writer}_{n}" for n in range(per_writer)]


@pytest.mark.parametrize(
    "bad_id", ["", " ", "a b", "x" * 129, "../etc", "thr_1;DROP TABLE threads", "ünï", "_lead"]
)
async def test_malformed_ids_are_refused(store: PostgresStore, bad_id: str) -> None:
    with pytest.raises(InvalidStoreInput, match="id must be"):
        await store.load_thread(bad_id, ALICE)
    with pytest.raises(InvalidStoreInput):
        await store.save_thread(thread(bad_id), ALICE)
    with pytest.raises(InvalidStoreInput):
        await store.load_item("thr_test", bad_id, ALICE)
    with pytest.raises(InvalidStoreInput):
        await store.load_threads(10, bad_id, "asc", ALICE)


@pytest.mark.parametrize(("limit", "order"), [(0, "asc"), (-1, "asc"), (10_001, "asc"), (5, "up")])
async def test_bad_page_arguments_are_refused(store: PostgresStore, limit: int, order: str) -> None:
    await store.save_thread(thread(), ALICE)
    with pytest.raises(InvalidStoreInput):
        await store.load_thread_items("thr_test", None, limit, order, ALICE)
    with pytest.raises(InvalidStoreInput):
        await store.load_threads(limit, None, order, ALICE)


async def test_oversized_and_nul_payloads_are_refused_without_damage(database_url: str) -> None:
    async with open_store(database_url, limits=StoreLimits(max_payload_bytes=10_000)) as store:
        await store.save_thread(thread(), ALICE)
        await store.add_thread_item("thr_test", user_message("msg_ok", "fine"), ALICE)
        with pytest.raises(PayloadTooLarge, match="limit is 10000"):
            await store.add_thread_item("thr_test", user_message("msg_big", "x" * 20_000), ALICE)
        with pytest.raises(InvalidStoreInput, match="NUL"):
            await store.save_item("thr_test", user_message("msg_ok", "a\x00b"), ALICE)
        page = await store.load_thread_items("thr_test", None, 10, "asc", ALICE)
        assert [i.id for i in page.data] == ["msg_ok"]
        assert page.data[0].content[0].text == "fine"  # type: ignore[union-attr]


async def test_non_ascii_round_trips(store: PostgresStore) -> None:
    await store.save_thread(thread(), ALICE)
    text = "ロボット 🤖 — naïve “quotes” \\u0000 literal"
    answer = AssistantMessageItem(
        id="msg_1",
        thread_id="thr_test",
        created_at=user_message("x").created_at,
        content=[AssistantMessageContent(text=text)],
    )
    await store.add_thread_item("thr_test", answer, ALICE)
    loaded = await store.load_item("thr_test", "msg_1", ALICE)
    assert loaded.content[0].text == text  # type: ignore[union-attr]


def test_migrations_are_numbered_from_one() -> None:
    versions = [m.version for m in load_migrations()]
    assert versions == list(range(1, len(versions) + 1))


async def test_migrations_are_idempotent_and_safe_concurrently(database_url: str) -> None:
    def migrate() -> int:
        with psycopg.connect(database_url) as conn:
            return len(apply_migrations(conn))

    results: list[int] = []

    async def run() -> None:
        results.append(await trio.to_thread.run_sync(migrate))

    async with trio.open_nursery() as nursery:
        for _ in range(4):
            nursery.start_soon(run)
    assert sorted(results) == [0, 0, 0, len(load_migrations())]
    assert await trio.to_thread.run_sync(migrate) == 0


async def test_store_without_database_degrades_then_heals(
    pg_server: EmbeddedPostgres, database_url: str
) -> None:
    # A URL whose database does not exist yet stands in for a database that is down.
    name = database_url.rsplit("/", 1)[1].split("?")[0]
    missing = pg_server.uri_for(name + "_later")
    async with open_store(missing, pool_min=0, db_timeout=0.5) as store:
        with pytest.raises(StoreUnavailable):
            await store.check()
        with pytest.raises(StoreUnavailable):
            await store.load_thread("thr_test", ALICE)
        with psycopg.connect(pg_server.uri, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}_later"'.encode())
        with trio.fail_after(20):
            while True:
                try:
                    await store.check()
                    break
                except StoreUnavailable:
                    await trio.sleep(0.2)
        await store.save_thread(thread(), ALICE)
        assert (await store.load_thread("thr_test", ALICE)).id == "thr_test"
    with psycopg.connect(pg_server.uri, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE "{name}_later" WITH (FORCE)'.encode())


@pytest.mark.slow
async def test_data_survives_an_embedded_restart(tmp_path: Path) -> None:
    async with open_store(data_dir=tmp_path) as store:
        await store.save_thread(thread(), ALICE)
        await store.add_thread_item("thr_test", user_message("msg_1", "kept"), ALICE)
    # The context exit stopped the server; the next open starts it again on the same data.
    pid_file = tmp_path / "pgdata" / "postmaster.pid"
    assert not pid_file.exists()
    async with open_store(data_dir=tmp_path) as store:
        item = await store.load_item("thr_test", "msg_1", ALICE)
        assert item.content[0].text == "kept"  # type: ignore[union-attr]

"""Per-user quotas through the HTTP stack: threads, titles, attachment names and bytes,
expiring upload slots, and attachment bytes deleted with their thread."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import psycopg
import pytest

from robolearn.config import Settings

from .conftest import ChatKit, user_input


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth="dev",
        max_threads_per_user=2,
        max_title_chars=20,
        max_attachment_name_chars=10,
        max_attachment_bytes_per_user=100,
    )


def refused(response: httpx.Response, status: int, code: str) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    return str(error["message"])


async def new_thread(
    client: ChatKit, text: str = "hi", attachments: list[str] | None = None
) -> str:
    events = await client.stream("threads.create", input=user_input(text, attachments))
    return str(events[0]["thread"]["id"])


async def uploaded(client: ChatKit, size: int, name: str = "a.txt") -> dict[str, Any]:
    created = await client.call("attachments.create", name=name, size=size, mime_type="text/plain")
    assert created.status_code == 200, created.text
    attachment: dict[str, Any] = created.json()
    url = attachment["upload_descriptor"]["url"]
    response = await client.http.put(url, content=b"x" * size, headers=client.headers)
    assert response.status_code == 200, response.text
    return attachment


async def test_threads_per_user(alice: ChatKit, bob: ChatKit) -> None:
    first = await new_thread(alice)
    await new_thread(alice)
    message = refused(
        await alice.call("threads.create", input=user_input("one more")),
        413,
        "thread_quota_exceeded",
    )
    assert "(2)" in message
    await new_thread(bob)  # a quota per user
    assert (await alice.call("threads.delete", thread_id=first)).status_code == 200
    await new_thread(alice)


async def test_title_length(alice: ChatKit) -> None:
    thread_id = await new_thread(alice)
    long = await alice.call("threads.update", thread_id=thread_id, title="x" * 21)
    assert "at most 20 characters" in refused(long, 400, "title_too_long")
    fits = await alice.call("threads.update", thread_id=thread_id, title="y" * 20)
    assert fits.status_code == 200
    thread = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert thread["title"] == "y" * 20


async def test_a_generated_title_fits_the_limit(alice: ChatKit) -> None:
    await new_thread(alice, "a first message with many more words than the title may hold")
    (thread,) = (await alice.call("threads.list")).json()["data"]
    assert len(thread["title"]) <= 20
    assert thread["title"].endswith("…")


async def test_attachment_name_length(alice: ChatKit) -> None:
    created = await alice.call("attachments.create", name="x" * 11, size=1, mime_type="text/plain")
    refused(created, 400, "attachment_name_too_long")
    direct = await alice.http.post(
        "/attachments", files={"file": ("y" * 11, b"hello", "text/plain")}, headers=alice.headers
    )
    refused(direct, 400, "attachment_name_too_long")
    await uploaded(alice, 1, name="z" * 10)


async def test_attachment_bytes_per_user(alice: ChatKit, bob: ChatKit) -> None:
    first = await uploaded(alice, 60)
    announced = await alice.call(
        "attachments.create", name="b.txt", size=30, mime_type="text/plain"
    )
    assert announced.status_code == 200  # announced, never uploaded: it counts as well
    over = await alice.call("attachments.create", name="c.txt", size=11, mime_type="text/plain")
    message = refused(over, 413, "attachment_quota_exceeded")
    assert "100 bytes per user" in message
    direct = await alice.http.post(
        "/attachments", files={"file": ("d.txt", b"x" * 11, "text/plain")}, headers=alice.headers
    )
    refused(direct, 413, "attachment_quota_exceeded")
    await uploaded(bob, 100)
    assert (await alice.call("attachments.delete", attachment_id=first["id"])).status_code == 200
    await uploaded(alice, 70)


async def test_slots_never_uploaded_expire(alice: ChatKit, database_url: str) -> None:
    created = await alice.call("attachments.create", name="a.txt", size=90, mime_type="text/plain")
    stale = created.json()
    with psycopg.connect(database_url, autocommit=True) as conn:
        conn.execute(
            "UPDATE attachment_blobs SET created_at = now() - interval '2 hours' WHERE id = %s",
            (stale["id"],),
        )
    late = await alice.http.put(
        stale["upload_descriptor"]["url"], content=b"x" * 90, headers=alice.headers
    )
    assert "expired" in refused(late, 404, "not_found")
    # The expired slot no longer counts, and the next announce cleans it up.
    await uploaded(alice, 90)
    with psycopg.connect(database_url) as conn:
        for table in ("attachment_blobs", "attachments"):
            row = conn.execute(
                f"SELECT count(*) FROM {table} WHERE id = %s".encode(), (stale["id"],)
            ).fetchone()
            assert row == (0,), table


async def test_deleting_a_thread_deletes_the_bytes_only_it_used(alice: ChatKit) -> None:
    only = await uploaded(alice, 40)
    shared = await uploaded(alice, 40)
    doomed = await new_thread(alice, "look", [only["id"], shared["id"]])
    await new_thread(alice, "again", [shared["id"]])

    def download(attachment: dict[str, Any]) -> Any:
        return alice.http.get(f"/attachments/{attachment['id']}", headers=alice.headers)

    assert (await download(only)).status_code == 200
    assert (await alice.call("threads.delete", thread_id=doomed)).status_code == 200
    assert (await download(only)).status_code == 404
    assert (await download(shared)).content == b"x" * 40
    await uploaded(alice, 60)  # the deleted thread's 40 bytes are free again


def test_defaults_a_classroom_never_meets() -> None:
    settings = Settings.from_env({})
    assert settings.max_threads_per_user == 1000
    assert settings.max_title_chars == 500
    assert settings.max_attachment_name_chars == 255
    assert settings.max_attachment_bytes_per_user == 256 << 20
    assert settings.upload_slot_ttl == 3600

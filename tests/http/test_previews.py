"""Preview links: signed, expiring, re-signed whenever sent, rate-limited per attachment, dead
with their attachment or thread; and every link built without the Host header."""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import psycopg
import pytest

from robolearn.config import Settings

from .conftest import ChatKit, user_input
from .test_attachments import PNG

KEY = "preview-key-for-tests-0123456789abcdef"


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth="dev",
        preview_key=KEY,
        preview_rate_per_minute=3,
    )


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def signed(attachment_id: str, thread_id: str | None, expires: int) -> str:
    """A link as the server signs it, for any expiry: the test knows the key."""
    message = f"preview\0{attachment_id}\0{thread_id or ''}\0{expires}".encode()
    tag = hmac.new(KEY.encode(), message, hashlib.sha256).digest()[:16]
    sig = base64.urlsafe_b64encode(tag).rstrip(b"=").decode()
    thread = f"thread={thread_id}&" if thread_id else ""
    return f"/attachments/{attachment_id}/preview?{thread}expires={expires}&sig={sig}"


async def image(client: ChatKit, **headers: str) -> dict[str, Any]:
    created = await client.call(
        "attachments.create", name="dot.png", size=len(PNG), mime_type="image/png"
    )
    assert created.status_code == 200, created.text
    upload = created.json()["upload_descriptor"]["url"]
    done = await client.http.put(upload, content=PNG, headers={**client.headers, **headers})
    assert done.status_code == 200, done.text
    return dict(done.json())


def code(response: httpx.Response) -> str:
    return str(response.json()["error"]["code"])


async def test_links_are_relative_and_ignore_the_host_header(alice: ChatKit) -> None:
    evil = {**alice.headers, "Host": "evil.example"}
    created = await alice.http.post(
        "/chatkit",
        json={
            "type": "attachments.create",
            "params": {"name": "dot.png", "size": len(PNG), "mime_type": "image/png"},
        },
        headers=evil,
    )
    assert "evil.example" not in created.text
    attachment = created.json()
    assert attachment["upload_descriptor"]["url"] == f"/attachments/{attachment['id']}/upload"
    assert attachment["preview_url"].startswith(f"/attachments/{attachment['id']}/preview?")
    done = await alice.http.put(attachment["upload_descriptor"]["url"], content=PNG, headers=evil)
    assert "evil.example" not in done.text
    assert done.json()["preview_url"].startswith("/attachments/")


class TestPublicUrl:
    @pytest.fixture
    def settings(self, database_url: str, tmp_path: Path) -> Settings:
        return Settings(
            database_url=database_url,
            data_dir=tmp_path,
            auth="dev",
            public_url="https://chat.example.org/tutor",
        )

    async def test_links_are_built_on_the_public_url(self, alice: ChatKit) -> None:
        created = await alice.http.post(
            "/chatkit",
            json={
                "type": "attachments.create",
                "params": {"name": "dot.png", "size": 3, "mime_type": "image/png"},
            },
            headers={**alice.headers, "Host": "evil.example"},
        )
        attachment = created.json()
        base = f"https://chat.example.org/tutor/attachments/{attachment['id']}"
        assert attachment["upload_descriptor"]["url"] == f"{base}/upload"
        assert attachment["preview_url"].startswith(f"{base}/preview?expires=")


async def test_a_preview_works_without_auth_until_it_expires(alice: ChatKit) -> None:
    attachment = await image(alice)
    url = attachment["preview_url"]
    expires = int(query(url)["expires"])
    assert time.time() + 3600 - 300 - 5 < expires <= time.time() + 3600 + 5
    preview = await alice.http.get(url)  # no auth header: the link is the capability
    assert preview.status_code == 200
    assert preview.content == PNG
    assert preview.headers["content-type"] == "image/png"
    max_age = int(preview.headers["cache-control"].rsplit("=", 1)[1])
    assert 0 < max_age <= 3600
    expired = await alice.http.get(signed(attachment["id"], None, int(time.time()) - 1))
    assert (expired.status_code, code(expired)) == (403, "preview_link_expired")


@pytest.mark.parametrize(
    "tamper",
    [
        lambda url: url.replace("sig=", "sig=x"),
        lambda url: url.replace("expires=", "expires=1"),
        lambda url: url.replace("sig=", "sig=%C3%A9"),  # non-ASCII: no 500
        lambda url: url.split("?")[0],
        lambda url: url.replace("/preview?", "/preview?thread=thr_x&"),
    ],
)
async def test_a_changed_link_is_refused(alice: ChatKit, tamper: Any) -> None:
    attachment = await image(alice)
    refused = await alice.http.get(tamper(attachment["preview_url"]))
    assert refused.status_code == 403, refused.text
    assert code(refused) == "preview_link_invalid"


async def test_messages_are_sent_with_fresh_links_for_their_thread(
    alice: ChatKit, database_url: str
) -> None:
    attachment = await image(alice)
    events = await alice.stream("threads.create", input=user_input("see", [attachment["id"]]))
    thread_id = events[0]["thread"]["id"]
    sent = events[1]["item"]["attachments"][0]["preview_url"]
    assert query(sent)["thread"] == thread_id
    listed = (await alice.call("items.list", thread_id=thread_id)).json()["data"]
    whole = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()["items"]["data"]
    for items in (listed, whole):
        (item,) = (item for item in items if item["type"] == "user_message")
        url = item["attachments"][0]["preview_url"]
        assert query(url)["thread"] == thread_id
        assert int(query(url)["expires"]) > time.time() + 3000
        assert (await alice.http.get(url)).content == PNG
    # What is stored is a placeholder: the links are made when sent, so a thread loaded an
    # hour (or a month) later gets links valid from then.
    with psycopg.connect(database_url) as conn:
        stored = [row[0] for row in conn.execute("SELECT data::text FROM items")]
        stored += [row[0] for row in conn.execute("SELECT data::text FROM attachments")]
    assert all("sig=" not in data for data in stored)
    assert any("robolearn:attachments/" in data for data in stored)


async def test_a_link_dies_with_its_attachment(alice: ChatKit) -> None:
    attachment = await image(alice)
    url = attachment["preview_url"]
    assert (await alice.http.get(url)).status_code == 200
    assert (
        await alice.call("attachments.delete", attachment_id=attachment["id"])
    ).status_code == 200
    assert (await alice.http.get(url)).status_code == 404


async def test_a_link_dies_with_the_thread_it_was_shown_in(alice: ChatKit) -> None:
    attachment = await image(alice)
    doomed = await alice.stream("threads.create", input=user_input("one", [attachment["id"]]))
    kept = await alice.stream("threads.create", input=user_input("two", [attachment["id"]]))
    in_doomed = doomed[1]["item"]["attachments"][0]["preview_url"]
    in_kept = kept[1]["item"]["attachments"][0]["preview_url"]
    assert (await alice.http.get(in_doomed)).status_code == 200
    deleted = await alice.call("threads.delete", thread_id=doomed[0]["thread"]["id"])
    assert deleted.status_code == 200
    # The bytes stay (the other thread shows them), but not through the deleted thread's link.
    assert (await alice.http.get(in_doomed)).status_code == 404
    assert (await alice.http.get(in_kept)).content == PNG


async def test_previews_are_rate_limited_per_attachment(alice: ChatKit) -> None:
    first, second = await image(alice), await image(alice)
    for _ in range(5):  # invalid links do not use up the attachment's budget
        await alice.http.get(first["preview_url"].replace("sig=", "sig=x"))
    for _ in range(3):
        assert (await alice.http.get(first["preview_url"])).status_code == 200
    limited = await alice.http.get(first["preview_url"])
    assert (limited.status_code, code(limited)) == (429, "preview_rate_limited")
    assert 1 <= int(limited.headers["Retry-After"]) <= 20
    assert (await alice.http.get(second["preview_url"])).status_code == 200
    metrics = (await alice.http.get("/metrics")).text
    assert (
        'robolearn_rate_limited_total{process="main",reason="preview_rate_limited"} 1.0' in metrics
    )


async def test_the_owner_downloads_with_auth_only(alice: ChatKit, bob: ChatKit) -> None:
    attachment = await image(alice)
    path = f"/attachments/{attachment['id']}"
    assert (await alice.http.get(path, headers=alice.headers)).content == PNG
    assert (await alice.http.get(path)).status_code == 401
    assert (await alice.http.get(path, headers=bob.headers)).status_code == 404
    # The old capability (a token in the query) opens nothing any more.
    assert (await alice.http.get(f"{path}?token=anything")).status_code == 401

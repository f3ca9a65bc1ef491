"""Uploads refused cleanly: over the limit, stalled, not the announced size, sent twice."""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from werkzeug.exceptions import RequestEntityTooLarge, RequestTimeout

from robolearn.config import Settings
from robolearn.http._errors import from_exception

from .conftest import ChatKit, user_input


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth="dev",
        max_attachment_bytes=1000,
        upload_timeout=0.5,
    )


async def announce(client: ChatKit, size: int, name: str = "a.txt") -> dict[str, Any]:
    created = await client.call("attachments.create", name=name, size=size, mime_type="text/plain")
    assert created.status_code == 200, created.text
    return dict(created.json())


async def put(client: ChatKit, attachment: dict[str, Any], content: Any) -> httpx.Response:
    url = attachment["upload_descriptor"]["url"]
    return await client.http.put(url, content=content, headers=client.headers)


def error(response: httpx.Response, status: int) -> str:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    message = response.json()["error"]["message"]
    assert message
    return str(response.json()["error"]["code"])


def no_errors_logged(caplog: pytest.LogCaptureFixture) -> bool:
    return not [r for r in caplog.records if r.levelno >= logging.ERROR] and (
        "Traceback" not in caplog.text
    )


async def chunks(total: int, size: int = 64 << 10) -> AsyncIterator[bytes]:
    """A body without a Content-Length (chunked transfer encoding)."""
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


# The server answers before it has read the whole body; httpx then drops its unfinished
# upload generator.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_a_chunked_upload_over_the_limit_is_413_without_a_traceback(
    alice: ChatKit, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO):
        two_phase = await put(alice, await announce(alice, 1000), chunks(20_000, 100))
        # Past Quart's own bound too (MAX_CONTENT_LENGTH, ~1 MiB here): that was a 500.
        direct = await alice.http.post(
            "/attachments", content=chunks(2 << 20), headers=alice.headers
        )
        unknown = await alice.http.put(
            "/attachments/atc_nope/upload", content=chunks(20_000), headers=alice.headers
        )
    assert error(two_phase, 413) == "upload_larger_than_declared"
    assert error(direct, 413) == "attachment_too_large"
    assert error(unknown, 404) == "not_found"
    assert no_errors_logged(caplog)
    # Refused with their bodies unread, on one keep-alive client: the next request still runs.
    assert (await alice.http.get("/healthz", timeout=5)).status_code == 200


async def stalled(client: ChatKit, path: str, head: str, sent: bytes) -> tuple[int, Any]:
    """Send a request whose body stops half-way; returns the answer's status and JSON body."""
    url = client.http.base_url
    request = (
        f"{head} {path} HTTP/1.1\r\nHost: {url.host}\r\n"
        f"X-User-ID: {client.headers['X-User-ID']}\r\n"
    ).encode() + sent
    stream = await trio.open_tcp_stream(url.host, url.port or 80)
    received = b""
    async with stream:
        await stream.send_all(request)
        with trio.fail_after(10):  # the server's deadline is 0.5 s
            while b"\r\n\r\n" not in received or not received.endswith(b"}"):
                chunk = await stream.receive_some()
                if not chunk:
                    break
                received += chunk
    head_part, _, body = received.partition(b"\r\n\r\n")
    status = int(head_part.split(b" ", 2)[1])
    return status, json.loads(body)


async def test_a_stalled_upload_is_408_without_a_traceback(
    alice: ChatKit, caplog: pytest.LogCaptureFixture
) -> None:
    attachment = await announce(alice, 100)
    multipart = (
        b"Content-Type: multipart/form-data; boundary=b\r\nContent-Length: 300\r\n\r\n"
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n\r\nhal'
    )
    with caplog.at_level(logging.INFO):
        raw = await stalled(
            alice,
            attachment["upload_descriptor"]["url"],
            "PUT",
            b"Content-Length: 100\r\n\r\n" + b"x" * 50,
        )
        form = await stalled(alice, "/attachments", "POST", multipart)
    for status, body in (raw, form):
        assert status == 408
        assert body["error"]["code"] == "upload_timeout"
        assert "0.5 s" in body["error"]["message"]
    assert no_errors_logged(caplog)
    # Nothing was stored: the slot still takes its bytes.
    assert (await put(alice, attachment, b"y" * 100)).status_code == 200


async def test_the_upload_must_be_the_announced_size(alice: ChatKit) -> None:
    attachment = await announce(alice, 10)
    assert error(await put(alice, attachment, b"x" * 9), 400) == "upload_smaller_than_declared"
    assert error(await put(alice, attachment, b"x" * 11), 413) == "upload_larger_than_declared"
    assert error(await put(alice, attachment, b""), 400) == "upload_smaller_than_declared"
    assert (await put(alice, attachment, b"x" * 10)).status_code == 200
    # As multipart form data (a descriptor saying POST) the file part is what counts.
    other = await announce(alice, 3)
    url = other["upload_descriptor"]["url"]
    files = {"file": ("a.txt", b"abcd", "text/plain")}
    response = await alice.http.post(url, files=files, headers=alice.headers)
    assert error(response, 413) == "upload_larger_than_declared"
    files = {"file": ("a.txt", b"abc", "text/plain")}
    assert (await alice.http.post(url, files=files, headers=alice.headers)).status_code == 200


async def test_bytes_arrive_once_and_never_change_once_used(alice: ChatKit, bob: ChatKit) -> None:
    attachment = await announce(alice, 5)
    assert (await put(alice, attachment, b"first")).status_code == 200
    assert error(await put(alice, attachment, b"later"), 409) == "already_uploaded"
    await alice.stream("threads.create", input=user_input("read this", [attachment["id"]]))
    assert error(await put(alice, attachment, b"later"), 409) == "attachment_in_use"
    assert error(await put(bob, attachment, b"later"), 404) == "not_found"
    download = await alice.http.get(f"/attachments/{attachment['id']}", headers=alice.headers)
    assert download.content == b"first"


def test_quarts_own_refusals_are_json_and_not_logged(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO):
        too_large = from_exception(RequestEntityTooLarge())
        too_slow = from_exception(RequestTimeout())
    assert (too_large.status, too_slow.status) == (413, 408)
    assert too_large.code == "request_entity_too_large"
    assert no_errors_logged(caplog)

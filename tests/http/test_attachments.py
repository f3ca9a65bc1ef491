"""Attachments: two-phase and direct upload, per-user access, conversion to model input."""

from __future__ import annotations

import base64

import pytest

from ._models import RecordingModel
from .conftest import ChatKit, user_input

PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


@pytest.fixture
def model() -> RecordingModel:
    return RecordingModel()


async def _two_phase(client: ChatKit, name: str, mime: str, data: bytes) -> dict[str, object]:
    created = await client.call("attachments.create", name=name, size=len(data), mime_type=mime)
    assert created.status_code == 200, created.text
    attachment = created.json()
    upload = attachment["upload_descriptor"]
    assert upload["method"] == "PUT"
    response = await client.http.request("PUT", upload["url"], content=data, headers=client.headers)
    assert response.status_code == 200, response.text
    done = response.json()
    assert "upload_descriptor" not in done
    return done


async def test_image_round_trip_reaches_the_model(alice: ChatKit, model: RecordingModel) -> None:
    image = await _two_phase(alice, "dot.png", "image/png", PNG)
    events = await alice.stream("threads.create", input=user_input("what is this?", [image["id"]]))
    sent = events[1]["item"]
    assert [a["id"] for a in sent["attachments"]] == [image["id"]]

    content = model.calls[-1].input[-1]["content"]
    image_part = next(part for part in content if part["type"] == "input_image")
    assert image_part["image_url"] == "data:image/png;base64," + base64.b64encode(PNG).decode()

    preview = await alice.http.get(str(image["preview_url"]))  # no auth header: a signed link
    assert preview.status_code == 200
    assert preview.content == PNG
    assert preview.headers["content-type"] == "image/png"


async def test_file_via_direct_upload(alice: ChatKit, model: RecordingModel) -> None:
    response = await alice.http.post(
        "/attachments",
        files={"file": ("notes.txt", b"ros2 topic list", "text/plain")},
        headers=alice.headers,
    )
    assert response.status_code == 200, response.text
    attachment = response.json()
    assert attachment["type"] == "file"
    await alice.stream("threads.create", input=user_input("read this", [attachment["id"]]))
    content = model.calls[-1].input[-1]["content"]
    file_part = next(part for part in content if part["type"] == "input_file")
    assert file_part["filename"] == "notes.txt"
    assert file_part["file_data"].endswith(base64.b64encode(b"ros2 topic list").decode())


async def test_attachments_are_private(alice: ChatKit, bob: ChatKit) -> None:
    image = await _two_phase(alice, "dot.png", "image/png", PNG)
    attachment_id = image["id"]
    assert (
        await bob.http.get(f"/attachments/{attachment_id}", headers=bob.headers)
    ).status_code == 404
    guessed = await bob.http.get(f"/attachments/{attachment_id}/preview?expires=9999999999&sig=x")
    assert guessed.status_code == 403
    used = await bob.call("threads.create", input=user_input("mine?", [attachment_id]))
    assert used.status_code == 404
    deleted = await bob.call("attachments.delete", attachment_id=attachment_id)
    assert deleted.status_code in (200, 404)
    owner = await alice.http.get(f"/attachments/{attachment_id}", headers=alice.headers)
    assert owner.content == PNG


@pytest.mark.parametrize(
    ("mime", "size", "status", "code"),
    [
        ("application/x-msdownload", 10, 400, "invalid_request"),
        ("image/png", 0, 400, "invalid_request"),
        ("image/png", 50 << 20, 413, "attachment_too_large"),
    ],
)
async def test_refused_attachments(
    alice: ChatKit, mime: str, size: int, status: int, code: str
) -> None:
    response = await alice.call("attachments.create", name="x", size=size, mime_type=mime)
    assert response.status_code == status
    assert response.json()["error"]["code"] == code


async def test_message_with_unuploaded_attachment_is_refused(alice: ChatKit) -> None:
    created = (
        await alice.call("attachments.create", name="a.png", size=10, mime_type="image/png")
    ).json()
    response = await alice.call("threads.create", input=user_input("x", [created["id"]]))
    assert response.status_code == 400
    assert "not been uploaded" in response.json()["error"]["message"]


# The server refuses before reading the body; httpx then drops its unfinished upload generator.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_upload_larger_than_the_limit(alice: ChatKit) -> None:
    created = (
        await alice.call("attachments.create", name="a.txt", size=10, mime_type="text/plain")
    ).json()
    response = await alice.http.put(
        f"/attachments/{created['id']}/upload", content=b"x" * (11 << 20), headers=alice.headers
    )
    assert response.status_code == 413


async def test_an_image_upload_must_be_that_image(alice: ChatKit) -> None:
    text = b"not a picture at all"
    created = (
        await alice.call("attachments.create", name="a.png", size=len(text), mime_type="image/png")
    ).json()
    put = await alice.http.put(
        f"/attachments/{created['id']}/upload", content=text, headers=alice.headers
    )
    assert put.status_code == 400
    assert put.json()["error"]["message"] == "the upload is not an image of type image/png"
    direct = await alice.http.post(
        "/attachments?mime_type=image/jpeg", content=PNG, headers=alice.headers
    )
    assert direct.status_code == 400
    # The right bytes are taken.
    await _two_phase(alice, "b.png", "image/png", PNG)

"""Attachment links: placeholders stored, fresh signed links sent, checked in constant time."""

from __future__ import annotations

import json
from datetime import datetime
from urllib.parse import parse_qs, urlsplit

import attrs
import pytest
from chatkit.types import AssistantMessageContentPartTextDelta as TextDelta
from chatkit.types import (
    FileAttachment,
    ImageAttachment,
    InferenceOptions,
    Page,
    Thread,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    UserMessageItem,
    UserMessageTextContent,
)

from robolearn.chat import AttachmentLinks, PreviewRefused, PreviewSigner

KEY = b"k" * 32


@attrs.define
class Clock:
    now: float = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def links(clock: Clock) -> AttachmentLinks:
    return AttachmentLinks(PreviewSigner(KEY, ttl=3600, clock=clock))


def image(
    links: AttachmentLinks, attachment_id: str = "atc_1", thread_id: str | None = None
) -> ImageAttachment:
    return ImageAttachment(
        id=attachment_id,
        name="dot.png",
        mime_type="image/png",
        preview_url=links.placeholder(attachment_id, "preview"),
        upload_descriptor=links.upload_descriptor(attachment_id),
        thread_id=thread_id,
    )


def message(
    attachments: list[ImageAttachment | FileAttachment], text: str = "look"
) -> UserMessageItem:
    return UserMessageItem(
        id="msg_1",
        thread_id="thr_1",
        created_at=datetime(2025, 1, 1),
        content=[UserMessageTextContent(text=text)],
        attachments=attachments,
        inference_options=InferenceOptions(),
    )


def query(url: str) -> dict[str, str]:
    return {name: values[0] for name, values in parse_qs(urlsplit(url).query).items()}


def check(links: AttachmentLinks, url: str, attachment_id: str = "atc_1") -> float:
    q = query(url)
    return links.signer.check(attachment_id, q.get("thread"), q["expires"], q["sig"])


def test_a_signed_link_is_valid_until_it_expires(links: AttachmentLinks, clock: Clock) -> None:
    url = links.preview_url("atc_1", "thr_1")
    assert url.startswith("/attachments/atc_1/preview?thread=thr_1&expires=")
    left = check(links, url)
    assert 3600 - 300 < left <= 3600
    clock.now += left - 1
    check(links, url)
    clock.now += 1
    with pytest.raises(PreviewRefused) as refused:
        check(links, url)
    assert refused.value.expired


def test_links_stay_the_same_within_a_step_so_browsers_cache_them(
    links: AttachmentLinks, clock: Clock
) -> None:
    clock.now = 1_700_000_100.0  # a multiple of 300 plus 100
    first = links.preview_url("atc_1", None)
    clock.now += 100
    assert links.preview_url("atc_1", None) == first
    clock.now += 200
    assert links.preview_url("atc_1", None) != first


@pytest.mark.parametrize(
    "change",
    [
        {"attachment": "atc_2"},
        {"thread": "thr_2"},
        {"thread": None},
        {"expires": "+1"},
        {"sig": "tampered"},
        {"sig": "é" * 22},  # non-ASCII: compare_digest raises TypeError on such str
        {"expires": "soon"},
        {"expires": "9" * 40},
    ],
)
def test_a_changed_link_is_refused(links: AttachmentLinks, change: dict[str, str | None]) -> None:
    q = query(links.preview_url("atc_1", "thr_1"))
    attachment_id = change.get("attachment") or "atc_1"
    thread_id = change["thread"] if "thread" in change else q["thread"]
    expires = q["expires"]
    if change.get("expires") == "+1":
        expires = str(int(expires) + 1)
    elif "expires" in change:
        expires = str(change["expires"])
    signature = str(change.get("sig") or q["sig"])
    with pytest.raises(PreviewRefused) as refused:
        links.signer.check(attachment_id, thread_id, expires, signature)
    assert not refused.value.expired


def test_another_key_signs_differently(links: AttachmentLinks) -> None:
    other = AttachmentLinks(PreviewSigner(b"o" * 32, clock=links.signer.clock))
    with pytest.raises(PreviewRefused):
        check(links, other.preview_url("atc_1", "thr_1"))


def test_links_use_the_public_url_never_a_host(clock: Clock) -> None:
    links = AttachmentLinks(PreviewSigner(KEY, clock=clock), "https://chat.example.org/api")
    assert links.upload_url("atc_1") == "https://chat.example.org/api/attachments/atc_1/upload"
    assert links.preview_url("atc_1", None).startswith(
        "https://chat.example.org/api/attachments/atc_1/preview?expires="
    )


def test_stored_attachments_carry_placeholders_that_are_replaced_when_sent(
    links: AttachmentLinks,
) -> None:
    stored = image(links)
    assert str(stored.preview_url) == "robolearn:attachments/atc_1/preview"
    sent = json.loads(links.serialize(stored) or b"")
    assert sent["upload_descriptor"] == {
        "url": "/attachments/atc_1/upload",
        "method": "PUT",
        "headers": {},
    }
    check(links, sent["preview_url"])
    assert "thread" not in query(sent["preview_url"])  # not shown in a thread yet
    assert "metadata" not in sent


def test_messages_in_events_threads_and_pages_get_links_for_their_thread(
    links: AttachmentLinks, clock: Clock
) -> None:
    item = message(
        [
            image(links, thread_id="thr_1"),
            FileAttachment(id="atc_f", name="a.txt", mime_type="text/plain"),
        ]
    )
    carriers = [
        ThreadItemDoneEvent(item=item),
        Page(data=[item]),
        Thread(id="thr_1", created_at=datetime(2025, 1, 1), items=Page(data=[item])),
    ]
    for carrier in carriers:
        sent = json.loads(links.serialize(carrier) or b"")
        found = sent.get("item") or (sent.get("items") or sent)["data"][0]
        preview = found["attachments"][0]["preview_url"]
        assert query(preview)["thread"] == "thr_1"
        check(links, preview)
        assert "preview_url" not in found["attachments"][1]
    # An hour later the stored message is sent with a link valid for another hour.
    clock.now += 3600
    later = json.loads(links.serialize(Page(data=[item])) or b"")
    assert check(links, later["data"][0]["attachments"][0]["preview_url"]) > 3000


def test_only_attachments_are_signed_never_text(links: AttachmentLinks) -> None:
    # A message quoting a link of another attachment does not get it signed.
    bait = "robolearn:attachments/atc_other/preview"
    assert links.serialize(ThreadItemDoneEvent(item=message([], text=bait))) is None
    sent = links.serialize(Page(data=[message([image(links)], text=bait)])) or b""
    assert b"atc_other" in sent and b"atc_other/preview?" not in sent


def test_events_without_attachments_are_left_to_chatkit(links: AttachmentLinks) -> None:
    delta = ThreadItemUpdatedEvent(item_id="msg_2", update=TextDelta(content_index=0, delta="x"))
    assert links.serialize(delta) is None
    assert links.serialize(Page(data=[message([])])) is None

"""Where attachment links point, and how preview links are signed.

Links are built from the configured public URL (``ROBOLEARN_PUBLIC_URL``), or are relative
paths without one: never from the request's ``Host`` header, which the client chooses.

Image previews must load in an ``<img>``, which sends no auth headers, so a preview link is a
capability: ``/attachments/{id}/preview?thread=...&expires=...&sig=...``, signed with HMAC
over the attachment, the thread it was shown in and its expiry. It stops working when it
expires, or when the attachment or that thread is deleted.

chatkit stores an attachment (with its ``preview_url``) in the attachment's row and in every
message that carries it, and sends what it stored. So the stored links are placeholders
(``robolearn:attachments/{id}/...``, which no client can open) and the links are made
when something is sent: :meth:`AttachmentLinks.serialize` re-signs every attachment of a
response (``items.list``, ``threads.get_by_id``, a message's ``thread.item.done``, the
attachment itself). A client showing a thread gets fresh links each time it loads it.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import quote, urlencode

import attrs
import pydantic_core
from chatkit.types import (
    AttachmentBase,
    AttachmentUploadDescriptor,
    Page,
    Thread,
    ThreadItemAddedEvent,
    ThreadItemDoneEvent,
    ThreadItemReplacedEvent,
    UserMessageItem,
)
from pydantic import AnyUrl, BaseModel

__all__ = ["AttachmentLinks", "PreviewRefused", "PreviewSigner"]

# What chatkit stores in place of a link: a valid URL (its types insist) that opens nothing.
_PLACEHOLDER = "robolearn:attachments/{id}/{kind}"

# 128 bits of HMAC-SHA256: more than enough for a tag no one can compute without the key.
_TAG_BYTES = 16
# Within one step a link is signed the same way, so browsers can cache the image.
_MAX_STEP = 300


class PreviewRefused(Exception):
    """A preview link that is not valid (``expired`` False) or no longer valid (True)."""

    def __init__(self, message: str, *, expired: bool) -> None:
        super().__init__(message)
        self.expired = expired


@attrs.frozen
class PreviewSigner:
    """Signs preview links valid for about ``ttl`` seconds, and checks them.

    Expiries are rounded down to a step of a quarter of ``ttl`` (at most 5 minutes), so a
    link stays the same for a while (cached images) and lives between ``ttl - step`` and
    ``ttl`` seconds.
    """

    key: bytes = attrs.field(repr=False)
    ttl: int = 3600
    clock: Callable[[], float] = time.time

    def sign(self, attachment_id: str, thread_id: str | None) -> tuple[int, str]:
        """``(expires, signature)`` for a link to ``attachment_id`` shown in ``thread_id``."""
        step = max(1, min(_MAX_STEP, self.ttl // 4))
        expires = int(self.clock() + self.ttl) // step * step
        return expires, self._tag(attachment_id, thread_id, expires)

    def check(
        self, attachment_id: str, thread_id: str | None, expires: str, signature: str
    ) -> float:
        """Seconds the link has left; :class:`PreviewRefused` unless it was signed here and
        has not expired."""
        when = int(expires) if expires.isascii() and expires.isdigit() and len(expires) < 16 else 0
        expected = self._tag(attachment_id, thread_id, when).encode()
        # Bytes: compare_digest refuses str with non-ASCII characters (a TypeError).
        given = signature.encode("utf-8", "replace")
        if not hmac.compare_digest(expected, given) or when == 0:
            raise PreviewRefused("this preview link is not valid", expired=False)
        left = when - self.clock()
        if left <= 0:
            raise PreviewRefused(
                "this preview link has expired; load the conversation again for a new one",
                expired=True,
            )
        return left

    def _tag(self, attachment_id: str, thread_id: str | None, expires: int) -> str:
        # Ids never contain NUL (see check_id), so the message reads back one way only.
        message = f"preview\0{attachment_id}\0{thread_id or ''}\0{expires}".encode()
        digest = hmac.new(self.key, message, hashlib.sha256).digest()[:_TAG_BYTES]
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


@attrs.frozen
class AttachmentLinks:
    """The links of attachments: placeholders to store, signed links to send."""

    signer: PreviewSigner
    # ``https://host[/prefix]`` without a trailing slash; None: relative paths.
    public_url: str | None = None

    def placeholder(self, attachment_id: str, kind: str) -> AnyUrl:
        """What an attachment stores instead of its ``kind`` ("upload", "preview") link."""
        return AnyUrl(_PLACEHOLDER.format(id=attachment_id, kind=kind))

    def upload_descriptor(self, attachment_id: str) -> AttachmentUploadDescriptor:
        return AttachmentUploadDescriptor(
            url=self.placeholder(attachment_id, "upload"), method="PUT"
        )

    def upload_url(self, attachment_id: str) -> str:
        return f"{self._path(attachment_id)}/upload"

    def preview_url(self, attachment_id: str, thread_id: str | None) -> str:
        expires, signature = self.signer.sign(attachment_id, thread_id)
        query = {"thread": thread_id} if thread_id is not None else {}
        query |= {"expires": str(expires), "sig": signature}
        return f"{self._path(attachment_id)}/preview?{urlencode(query)}"

    def serialize(self, obj: BaseModel) -> bytes | None:
        """``obj`` as chatkit sends it, with fresh links on its attachments; None if it has none.

        Only attachments where chatkit puts them (an attachment, a user message's
        attachments) are touched: text that looks like a link is never signed.
        """
        if not _has_attachments(obj):
            return None
        data = obj.model_dump(
            mode="json", by_alias=True, exclude_none=True, context={"exclude_metadata": True}
        )
        for attachment, thread_id in _attachments_in(obj, data):
            self._refresh(attachment, thread_id)
        return pydantic_core.to_json(data)

    def _refresh(self, attachment: dict[str, Any], thread_id: str | None) -> None:
        attachment_id = attachment["id"]
        if "preview_url" in attachment:
            attachment["preview_url"] = self.preview_url(attachment_id, thread_id)
        upload = attachment.get("upload_descriptor")
        if isinstance(upload, dict):
            upload["url"] = self.upload_url(attachment_id)

    def _path(self, attachment_id: str) -> str:
        return f"{self.public_url or ''}/attachments/{quote(attachment_id, safe='')}"


_ITEM_EVENTS = (ThreadItemAddedEvent, ThreadItemDoneEvent, ThreadItemReplacedEvent)


def _has_attachments(obj: BaseModel) -> bool:
    # Most of what is sent is a streamed delta: the first test turns it away.
    if isinstance(obj, _ITEM_EVENTS):
        return isinstance(obj.item, UserMessageItem) and bool(obj.item.attachments)
    if isinstance(obj, AttachmentBase):
        return True
    if isinstance(obj, Thread):
        obj = obj.items
    if isinstance(obj, Page):
        return any(isinstance(item, UserMessageItem) and item.attachments for item in obj.data)
    return False


def _attachments_in(
    obj: BaseModel, data: dict[str, Any]
) -> Iterator[tuple[dict[str, Any], str | None]]:
    """The attachments in ``data`` (``obj`` dumped), each with the thread it is shown in."""
    if isinstance(obj, AttachmentBase):
        yield data, obj.thread_id
        return
    if isinstance(obj, _ITEM_EVENTS):
        items = [data["item"]]
    elif isinstance(obj, Thread):
        items = data["items"]["data"]
    else:
        items = data["data"]
    for item in items:
        if item.get("type") == "user_message":
            for attachment in item.get("attachments", ()):
                yield attachment, item["thread_id"]

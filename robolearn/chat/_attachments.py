"""Attachments: two-phase uploads to this server (made into model input by ``_model_input``)."""

from __future__ import annotations

import uuid
from collections.abc import Callable

import attrs
from chatkit.store import AttachmentStore
from chatkit.types import (
    Attachment,
    AttachmentCreateParams,
    FileAttachment,
    ImageAttachment,
)

from robolearn.store import BlobStore, LimitExceeded, TooLong

from ._context import RequestContext
from ._links import AttachmentLinks

__all__ = ["AttachmentLimits", "AttachmentRejected", "BlobAttachmentStore"]

IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
FILE_TYPES = frozenset(
    {"application/pdf", "text/plain", "text/markdown", "text/csv", "application/json"}
)


_IMAGE_SIGNATURES: dict[str, Callable[[bytes], bool]] = {
    "image/png": lambda data: data.startswith(b"\x89PNG\r\n\x1a\n"),
    "image/jpeg": lambda data: data.startswith(b"\xff\xd8\xff"),
    "image/gif": lambda data: data.startswith((b"GIF87a", b"GIF89a")),
    "image/webp": lambda data: data[:4] == b"RIFF" and data[8:12] == b"WEBP",
}


class AttachmentRejected(ValueError):
    """An attachment the server will not take (type, size, count, not uploaded)."""


@attrs.frozen(kw_only=True)
class AttachmentLimits:
    max_bytes: int = 10 << 20
    max_per_message: int = 4
    max_name_chars: int = 255
    image_types: frozenset[str] = IMAGE_TYPES
    file_types: frozenset[str] = FILE_TYPES

    def check(self, params: AttachmentCreateParams) -> None:
        """Raise unless an attachment of this name, type and size may be announced."""
        if len(params.name) > self.max_name_chars:
            raise TooLong(
                "attachment_name_too_long",
                f"an attachment's name may have at most {self.max_name_chars} characters,"
                f" not {len(params.name)}",
            )
        if params.mime_type not in self.image_types | self.file_types:
            allowed = ", ".join(sorted(self.image_types | self.file_types))
            raise AttachmentRejected(
                f"attachments of type {params.mime_type!r} are not accepted ({allowed})"
            )
        if params.size > self.max_bytes:
            raise LimitExceeded(
                "attachment_too_large",
                f"an attachment may have at most {self.max_bytes} bytes, not {params.size}",
            )
        if params.size < 1:
            raise AttachmentRejected(f"an attachment's size must be at least 1, not {params.size}")

    @staticmethod
    def check_bytes(mime_type: str, data: bytes) -> None:
        """Raise unless ``data`` is what ``mime_type`` says, for the image types: an image
        goes to the model as one, and a provider refuses a turn whose image is not."""
        signature = _IMAGE_SIGNATURES.get(mime_type)
        if signature is not None and not signature(data):
            raise AttachmentRejected(f"the upload is not an image of type {mime_type}")


@attrs.frozen
class BlobAttachmentStore(AttachmentStore[RequestContext]):
    """chatkit's ``AttachmentStore``: announces uploads; the bytes arrive at the upload link.

    What is stored carries placeholder links; `AttachmentLinks` makes the real ones (a
    signed preview link for images, since ``<img>`` cannot send auth headers) whenever an
    attachment is sent.
    """

    blobs: BlobStore
    links: AttachmentLinks
    limits: AttachmentLimits = attrs.field(factory=AttachmentLimits)

    async def create_attachment(
        self, input: AttachmentCreateParams, context: RequestContext
    ) -> Attachment:
        self.limits.check(input)
        attachment_id = self.generate_attachment_id(input.mime_type, context)
        await self.blobs.announce(attachment_id, input.mime_type, input.size, context)
        upload = self.links.upload_descriptor(attachment_id)
        if input.mime_type in self.limits.image_types:
            return ImageAttachment(
                id=attachment_id,
                name=input.name,
                mime_type=input.mime_type,
                upload_descriptor=upload,
                preview_url=self.links.placeholder(attachment_id, "preview"),
            )
        return FileAttachment(
            id=attachment_id, name=input.name, mime_type=input.mime_type, upload_descriptor=upload
        )

    async def delete_attachment(self, attachment_id: str, context: RequestContext) -> None:
        await self.blobs.delete(attachment_id, context)

    def generate_attachment_id(self, mime_type: str, context: RequestContext) -> str:
        # chatkit's default carries 8 hex digits; these ids are global, so make them long.
        return f"atc_{uuid.uuid4().hex}"

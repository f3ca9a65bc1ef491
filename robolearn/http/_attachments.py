"""Attachment bytes over plain HTTP: two-phase upload target, direct upload, the owner's
download, and signed previews."""

from __future__ import annotations

import math

from chatkit.types import Attachment, AttachmentCreateParams
from quart import Response, request

from robolearn.chat import RequestContext
from robolearn.services import Services
from robolearn.store import Blob

from ._errors import HttpError, from_exception
from ._frontdoor import FrontDoor
from ._ratelimit import RateLimited, RateLimiter

__all__ = ["download", "preview", "upload", "upload_direct"]


async def _context(door: FrontDoor) -> RequestContext:
    user_id = await door.auth.authenticate(request.headers)
    await door.limiter.acquire(user_id)
    return RequestContext(user_id=user_id)


async def _body(limit: int) -> tuple[bytes, str | None, str | None]:
    """The uploaded bytes, with the file name and type when sent as multipart form data."""
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, "payload_too_large", f"attachments are limited to {limit} bytes")
    if request.mimetype == "multipart/form-data":
        files = await request.files
        upload = files.get("file")
        if upload is None:
            raise HttpError(400, "invalid_request", "multipart upload needs a 'file' field")
        data = upload.read()
        name, mime = upload.filename, upload.mimetype
    else:
        raw = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        data, name, mime = (raw if isinstance(raw, bytes) else raw.encode()), None, None
    if len(data) > limit:
        raise HttpError(413, "payload_too_large", f"attachments are limited to {limit} bytes")
    if not data:
        raise HttpError(400, "invalid_request", "the upload is empty")
    return data, name, mime


async def upload(services: Services, door: FrontDoor, attachment_id: str) -> Response:
    """Phase two of a two-phase upload: the bytes for an attachment announced before."""
    try:
        context = await _context(door)
        data, _, _ = await _body(services.settings.max_attachment_bytes)
        attachment = await services.store.load_attachment(attachment_id, context)
        services.attachments.limits.check(attachment.mime_type, len(data))
        await services.attachments.blobs.upload(attachment_id, data, context)
        done = attachment.model_copy(update={"upload_descriptor": None})
        await services.store.save_attachment(done, context)
        return _json(services, done)
    except Exception as exc:
        return from_exception(exc).response()


async def upload_direct(services: Services, door: FrontDoor) -> Response:
    """Direct upload: create the attachment and send its bytes in one multipart request."""
    try:
        context = await _context(door)
        data, name, mime = await _body(services.settings.max_attachment_bytes)
        mime = request.args.get("mime_type") or mime or "application/octet-stream"
        params = AttachmentCreateParams(name=name or "upload", size=len(data), mime_type=mime)
        attachment = await services.attachments.create_attachment(params, context)
        await services.attachments.blobs.upload(attachment.id, data, context)
        done = attachment.model_copy(update={"upload_descriptor": None})
        await services.store.save_attachment(done, context)
        return _json(services, done)
    except Exception as exc:
        return from_exception(exc).response()


async def download(services: Services, door: FrontDoor, attachment_id: str) -> Response:
    """The bytes, for their owner."""
    try:
        context = await _context(door)
        blob = await services.attachments.blobs.load(attachment_id, context)
    except Exception as exc:
        return from_exception(exc).response()
    return _bytes(blob, max_age=3600)


async def preview(
    services: Services, door: FrontDoor, previews: RateLimiter, attachment_id: str
) -> Response:
    """The bytes, for anyone with a preview link the server signed that has not expired.

    Rate-limited per attachment (not per client address, which a classroom shares): a
    leaked link cannot serve an image more than ``ROBOLEARN_PREVIEW_RATE_PER_MINUTE`` times a
    minute, and only valid links count against it.
    """
    try:
        thread_id = request.args.get("thread")
        left = services.attachments.links.signer.check(
            attachment_id, thread_id, request.args.get("expires", ""), request.args.get("sig", "")
        )
        try:
            await previews.acquire(attachment_id)
        except RateLimited as exc:
            door.metrics.rate_limited.labels("preview_rate_limited").inc()
            raise HttpError(
                429,
                "preview_rate_limited",
                f"this attachment's preview was loaded too often; retry in"
                f" {math.ceil(exc.retry_after)} s",
                retry_after=exc.retry_after,
            ) from None
        blob = await services.attachments.blobs.load_preview(attachment_id, thread_id)
    except Exception as exc:
        return from_exception(exc).response()
    # Cached no longer than the link is valid.
    return _bytes(blob, max_age=int(left))


def _bytes(blob: Blob, *, max_age: int) -> Response:
    disposition = "inline" if blob.mime_type.startswith("image/") else "attachment"
    return Response(
        blob.data,
        content_type=blob.mime_type,
        headers={
            "Content-Disposition": disposition,
            "Cache-Control": f"private, max-age={max_age}",
            "X-Content-Type-Options": "nosniff",
        },
    )


def _json(services: Services, attachment: Attachment) -> Response:
    body = services.attachments.links.serialize(attachment)
    assert body is not None  # an attachment always has its links refreshed
    return Response(body, content_type="application/json")

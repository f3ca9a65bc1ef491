"""Attachment bytes over plain HTTP: two-phase upload target, direct upload, the owner's
download, and signed previews.

An upload that cannot succeed (not the user's slot, its bytes there already) is refused
before its body is read; a body is refused as soon as it is longer than it may be, and
after ``ROBOLEARN_UPLOAD_TIMEOUT`` seconds if it has not all arrived by then. A two-phase
upload must be exactly as long as ``attachments.create`` announced.
"""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import attrs
import trio
from chatkit.types import Attachment, AttachmentCreateParams
from quart import Response, request
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.formparser import FormDataParser

from robolearn.chat import RequestContext
from robolearn.store import Blob

from ._errors import HttpError, from_exception
from ._gate import MULTIPART_OVERHEAD, Gate
from ._services import HttpServices

__all__ = ["download", "preview", "upload", "upload_direct"]


async def _context(gate: Gate) -> RequestContext:
    return RequestContext(user_id=await gate.admit(request.headers))


@attrs.frozen
class _Upload:
    data: bytes
    # Sent with multipart form data only.
    name: str | None = None
    mime_type: str | None = None


@contextmanager
def _deadline(seconds: float) -> Iterator[None]:
    """An upload's body must have arrived within ``seconds``: 408 otherwise."""
    try:
        with trio.fail_after(seconds):
            yield
    except trio.TooSlowError:
        raise HttpError(
            408, "upload_timeout", f"the upload did not arrive within {seconds:g} s; send it again"
        ) from None


async def _receive(limit: int, too_large: Callable[[], HttpError]) -> _Upload:
    """The uploaded file, at most ``limit`` bytes: the body, or its multipart ``file`` part."""
    multipart = request.mimetype == "multipart/form-data"
    room = limit + MULTIPART_OVERHEAD if multipart else limit
    if request.content_length is not None and request.content_length > room:
        raise too_large()
    chunks: list[bytes] = []
    size = 0
    try:
        async for chunk in request.body:
            size += len(chunk)
            if size > room:
                raise too_large()
            chunks.append(chunk)
    except RequestEntityTooLarge:  # Quart's own bound (MAX_CONTENT_LENGTH)
        raise too_large() from None
    body = b"".join(chunks)
    received = _file_part(body) if multipart else _Upload(body)
    if len(received.data) > limit:
        raise too_large()
    return received


def _file_part(body: bytes) -> _Upload:
    # Parsed here, from memory, rather than by Quart as the body arrives: Quart's parser
    # spools files to temporary files it leaves open when the upload is cut short.
    parser = FormDataParser(
        stream_factory=lambda *_args, **_kwargs: io.BytesIO(),
        max_form_memory_size=MULTIPART_OVERHEAD,
        max_form_parts=16,
    )
    try:
        _, _, files = parser.parse(
            io.BytesIO(body), "multipart/form-data", len(body), request.mimetype_params
        )
    except RequestEntityTooLarge:
        raise HttpError(
            400, "invalid_request", "the multipart form has too many or too large fields"
        ) from None
    upload = files.get("file")
    if upload is None:
        raise HttpError(400, "invalid_request", "multipart upload needs a 'file' field")
    return _Upload(upload.read(), upload.filename, upload.mimetype)


async def upload(services: HttpServices, gate: Gate, attachment_id: str) -> Response:
    """Phase two of a two-phase upload: the bytes announced before, exactly, once."""
    received: _Upload | None = None
    try:
        context = await _context(gate)
        blobs = services.attachments.blobs
        slot = await blobs.open_slot(attachment_id, context)
        declared = slot.declared_size

        def too_large() -> HttpError:
            return HttpError(
                413,
                "upload_larger_than_declared",
                f"attachments.create announced {declared} bytes; the upload has more",
            )

        with _deadline(services.settings.upload_timeout):
            received = await _receive(declared, too_large)
        if len(received.data) != declared:
            raise HttpError(
                400,
                "upload_smaller_than_declared",
                f"attachments.create announced {declared} bytes; the upload has"
                f" {len(received.data)}",
            )
        attachment = await services.store.load_attachment(attachment_id, context)
        services.attachments.limits.check_bytes(attachment.mime_type, received.data)
        await blobs.upload(attachment_id, received.data, context)
        done = attachment.model_copy(update={"upload_descriptor": None})
        await services.store.save_attachment(done, context)
        return _json(services, done)
    except Exception as exc:
        return _refused(exc, body_read=received is not None)


async def upload_direct(services: HttpServices, gate: Gate) -> Response:
    """Direct upload: create the attachment and send its bytes in one request."""
    received: _Upload | None = None
    try:
        context = await _context(gate)
        limit = services.attachments.limits.max_bytes

        def too_large() -> HttpError:
            return HttpError(
                413, "attachment_too_large", f"an attachment may have at most {limit} bytes"
            )

        with _deadline(services.settings.upload_timeout):
            received = await _receive(limit, too_large)
        if not received.data:
            raise HttpError(400, "invalid_request", "the upload is empty")
        mime = request.args.get("mime_type") or received.mime_type or "application/octet-stream"
        services.attachments.limits.check_bytes(mime, received.data)
        params = AttachmentCreateParams(
            name=received.name or "upload", size=len(received.data), mime_type=mime
        )
        attachment = await services.attachments.create_attachment(params, context)
        await services.attachments.blobs.upload(attachment.id, received.data, context)
        done = attachment.model_copy(update={"upload_descriptor": None})
        await services.store.save_attachment(done, context)
        return _json(services, done)
    except Exception as exc:
        return _refused(exc, body_read=received is not None)


def _refused(exc: Exception, *, body_read: bool) -> Response:
    response = from_exception(exc).response()
    if not body_read and request.http_version in ("1.0", "1.1"):
        # Refused before its body was read to the end: Hypercorn would keep the connection
        # for the next request, which then waits forever behind the unread rest.
        response.headers["Connection"] = "close"
    return response


async def download(services: HttpServices, gate: Gate, attachment_id: str) -> Response:
    """The bytes, for their owner."""
    context = await _context(gate)
    blob = await services.attachments.blobs.load(attachment_id, context)
    return _bytes(blob, max_age=3600)


async def preview(services: HttpServices, gate: Gate, attachment_id: str) -> Response:
    """The bytes, for anyone with a preview link the server signed that has not expired.

    Rate-limited per attachment (not per client address, which a classroom shares): a
    leaked link cannot serve an image more than ``ROBOLEARN_PREVIEW_RATE_PER_MINUTE`` times a
    minute, and only valid links count against it.
    """
    thread_id = request.args.get("thread")
    left = services.attachments.links.signer.check(
        attachment_id, thread_id, request.args.get("expires", ""), request.args.get("sig", "")
    )
    await gate.admit_preview(attachment_id)
    blob = await services.attachments.blobs.load_preview(attachment_id, thread_id)
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


def _json(services: HttpServices, attachment: Attachment) -> Response:
    body = services.attachments.links.serialize(attachment)
    assert body is not None  # an attachment always has its links refreshed
    return Response(body, content_type="application/json")

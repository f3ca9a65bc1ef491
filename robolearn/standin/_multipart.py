"""Just enough ``multipart/form-data`` to answer ``/v1/audio/transcriptions``.

The stand-in only needs the size and content type of the ``file`` part; the standard
library's MIME parser reads that without adding a dependency.
"""

from __future__ import annotations

from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP

import attrs

__all__ = ["FilePart", "MultipartError", "file_part"]


class MultipartError(ValueError):
    """The body is not ``multipart/form-data`` with a ``file`` part."""


@attrs.frozen
class FilePart:
    size: int
    content_type: str


def file_part(content_type: str, body: bytes, name: str = "file") -> FilePart:
    """The part called ``name`` of a multipart body whose header is ``content_type``."""
    if not content_type.lower().startswith("multipart/form-data"):
        raise MultipartError(f"expected multipart/form-data, got {content_type!r}")
    envelope = f"Content-Type: {content_type}\r\nMIME-Version: 1.0\r\n\r\n".encode()
    message = BytesParser(policy=HTTP).parsebytes(envelope + body)
    if not message.is_multipart():
        raise MultipartError("the multipart body has no parts")
    for part in message.iter_parts():
        if (
            isinstance(part, Message)
            and part.get_param("name", header="content-disposition") == name
        ):
            payload = part.get_payload(decode=True)
            size = len(payload) if isinstance(payload, bytes) else 0
            return FilePart(size, part.get_content_type())
    raise MultipartError(f"no {name!r} part in the multipart body")

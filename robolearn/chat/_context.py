"""Who is asking and what they are reading: the per-request context chatkit passes around."""

from __future__ import annotations

from typing import Any, TypeVar

import attrs
import pydantic_core
from pydantic import BaseModel, ConfigDict, Field, ValidationError

__all__ = ["MetadataError", "PageContext", "RequestContext", "UserInfo", "parse_metadata"]

_MAX_METADATA_BYTES = 16_384

_M = TypeVar("_M", bound=BaseModel)


class MetadataError(ValueError):
    """The request's ``metadata`` cannot be used (wrong types, too large)."""


class _Lenient(BaseModel):
    # Unknown fields are the frontend's business; ignore them rather than fail requests.
    model_config = ConfigDict(extra="ignore", frozen=True, str_max_length=2000)


class UserInfo(_Lenient):
    """``metadata.userInfo`` as the RoboLearn frontend sends it."""

    id: str | None = None
    name: str | None = None
    email: str | None = None
    software_background: str | None = Field(default=None, alias="softwareBackground")
    hardware_tier: str | int | None = Field(default=None, alias="hardwareTier")
    level: str | None = None


class PageContext(_Lenient):
    """``metadata.pageContext``: the lesson the reader has open."""

    url: str | None = None
    title: str | None = None
    path: str | None = None
    description: str | None = None
    headings: list[str] = Field(default_factory=list, max_length=200)
    word_count: int | None = Field(default=None, alias="wordCount")


@attrs.frozen(kw_only=True)
class RequestContext:
    """The chatkit ``context`` of one request: who is asking, and what they are reading.

    ``user_id`` comes from authentication only, never from the body. A thread actor's turn
    hands chatkit a `TurnContext`, this plus the turn's own state.
    """

    user_id: str
    request_id: str = ""
    user_info: UserInfo | None = None
    page_context: PageContext | None = None


def parse_metadata(metadata: dict[str, Any]) -> tuple[UserInfo | None, PageContext | None]:
    """Validate the parts of request metadata the tutor uses."""
    if len(pydantic_core.to_json(metadata)) > _MAX_METADATA_BYTES:
        raise MetadataError(f"metadata is larger than {_MAX_METADATA_BYTES} bytes")
    user = _optional(UserInfo, "userInfo", metadata.get("userInfo"))
    page = _optional(PageContext, "pageContext", metadata.get("pageContext"))
    return user, page


def _optional(model: type[_M], name: str, value: object) -> _M | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise MetadataError(f"metadata.{name} must be an object")
    try:
        return model.model_validate(value)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(part) for part in first["loc"])
        raise MetadataError(f"metadata.{name}.{where}: {first['msg']}") from None

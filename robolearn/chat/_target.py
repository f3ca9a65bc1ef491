"""What a ChatKit request addresses: its thread, the user message it brings, whether it streams.

The HTTP front routes on this (a thread's requests go to that thread's actor) and the turn
layer checks on it (the thread is the user's, the message's attachments were uploaded), so
both read it here, from the request types themselves, rather than probing ``params``.
"""

from __future__ import annotations

import attrs
from chatkit.types import (
    ChatKitReq,
    ItemsFeedbackReq,
    ItemsListReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsAddUserMessageReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsDeleteReq,
    ThreadsGetByIdReq,
    ThreadsRetryAfterItemReq,
    ThreadsSyncCustomActionReq,
    ThreadsUpdateReq,
    UserMessageInput,
    is_streaming_req,
)

__all__ = ["RequestTarget", "request_target"]

# Every request type whose params name a thread (a test checks this against chatkit's types,
# so a chatkit upgrade that adds one fails there, not in production).
THREAD_REQUESTS = (
    ThreadsGetByIdReq,
    ThreadsUpdateReq,
    ThreadsDeleteReq,
    ThreadsAddUserMessageReq,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsCustomActionReq,
    ThreadsSyncCustomActionReq,
    ThreadsRetryAfterItemReq,
    ItemsListReq,
    ItemsFeedbackReq,
)

# Every request type that brings a new user message.
MESSAGE_REQUESTS = (ThreadsCreateReq, ThreadsAddUserMessageReq)


@attrs.frozen
class RequestTarget:
    """What one ChatKit request addresses.

    ``thread_id``: the thread its params name; None for requests that name none
    (``threads.create``, whose thread does not exist yet, lists, attachments, dictation).
    ``message``: the user message it brings, if any. ``streaming``: answered as SSE.
    """

    thread_id: str | None
    message: UserMessageInput | None
    streaming: bool


def request_target(request: ChatKitReq) -> RequestTarget:
    """What ``request`` addresses (see `RequestTarget`)."""
    return RequestTarget(
        thread_id=request.params.thread_id if isinstance(request, THREAD_REQUESTS) else None,
        message=request.params.input if isinstance(request, MESSAGE_REQUESTS) else None,
        streaming=is_streaming_req(request),
    )

"""``POST /chatkit``: parse, authorise, route to the thread's actor or the store, answer.

Routing: reads (``threads.list``, ``threads.get_by_id``, ``items.list``) and attachment
requests go straight to the store and run concurrently; every request that changes a thread
goes through that thread's actor, so one thread's requests are applied strictly in order.
Streaming answers start only after the first event exists, so anything that fails before
it (unknown thread, full mailbox, database down) still gets a proper 4xx/5xx JSON answer.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack

import attrs
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    InputTranscribeReq,
    ItemsListReq,
    ThreadsCreateReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsRetryAfterItemReq,
    UserMessageInput,
    is_streaming_req,
)
from quart import Response, request

from robolearn.actors import ActorError
from robolearn.chat import REQUEST_ADAPTER, RequestContext, parse_metadata
from robolearn.chat._turns import ChatJob, TurnFailed
from robolearn.services import Services

from ._auth import authenticate
from ._errors import HttpError, from_exception

__all__ = ["handle_chatkit"]

_log = logging.getLogger("robolearn.http")

_DIRECT = (
    ThreadsListReq,
    ThreadsGetByIdReq,
    ItemsListReq,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    InputTranscribeReq,
)

_SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # proxies must pass each event on at once
}


async def handle_chatkit(services: Services) -> Response:
    try:
        return await _handle(services)
    except Exception as exc:
        return from_exception(exc).response()


async def _handle(services: Services) -> Response:
    user_id = authenticate(request, services.settings)
    body = await _read_body(services.settings.max_body_bytes)
    parsed: ChatKitReq = REQUEST_ADAPTER.validate_json(body)
    user_info, page_context = parse_metadata(parsed.metadata)
    context = RequestContext(
        user_id=user_id,
        request_id=request.headers.get("X-Request-ID") or uuid.uuid4().hex,
        user_info=user_info,
        page_context=page_context,
        base_url=request.host_url,
    )
    thread_id = getattr(parsed.params, "thread_id", None)
    if isinstance(thread_id, str):
        # Another user's thread is "not found" for every request type, reads included.
        await services.store.load_thread(thread_id, context)
    if isinstance(parsed, ThreadsRetryAfterItemReq):
        # chatkit answers an unknown item with an empty stream; say what is wrong instead.
        await services.store.load_item(parsed.params.thread_id, parsed.params.item_id, context)
    new_input = getattr(parsed.params, "input", None)
    if isinstance(new_input, UserMessageInput):
        await _check_attachments(services, new_input.attachments, context)
    if isinstance(parsed, _DIRECT):
        return _json(await services.server.answer(parsed, context))
    if isinstance(parsed, ThreadsCreateReq):
        thread_id = services.store.generate_thread_id(context)
        context = attrs.evolve(context, new_thread_id=thread_id)
    if not isinstance(thread_id, str):
        raise HttpError(400, "invalid_request", f"{parsed.type} needs params.thread_id")

    stack = AsyncExitStack()
    try:
        replies = await stack.enter_async_context(
            services.actors.request(thread_id, ChatJob(parsed, context))
        )
        first = await _first_reply(replies)
    except BaseException:
        await stack.aclose()
        raise
    if not is_streaming_req(parsed):
        await stack.aclose()
        return _json(first)
    return _sse(first, replies, stack)


async def _check_attachments(
    services: Services, attachment_ids: list[str], context: RequestContext
) -> None:
    """Refuse a message whose attachments are foreign, missing or not uploaded, up front."""
    limit = services.attachments.limits.max_per_message
    if len(attachment_ids) > limit:
        raise HttpError(400, "too_many_attachments", f"a message may carry at most {limit}")
    await services.attachments.blobs.check_uploaded(attachment_ids, context)


async def _read_body(limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise HttpError(413, "payload_too_large", f"request body over {limit} bytes")
    body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
    if not isinstance(body, bytes) or len(body) > limit:
        raise HttpError(413, "payload_too_large", f"request body over {limit} bytes")
    return body


async def _first_reply(replies: AsyncIterator[bytes | TurnFailed]) -> bytes:
    try:
        first = await replies.__anext__()
    except StopAsyncIteration:
        raise HttpError(500, "internal_error", "the request produced no answer") from None
    if isinstance(first, TurnFailed):
        raise first.error
    return first


def _sse(
    first: bytes, replies: AsyncIterator[bytes | TurnFailed], stack: AsyncExitStack
) -> Response:
    async def events() -> AsyncIterator[bytes]:
        # Leaving early (client gone) only closes our end: the actor's turn goes on and
        # persists the answer.
        async with stack:
            yield first
            try:
                async for chunk in replies:
                    if isinstance(chunk, TurnFailed):
                        yield from_exception(chunk.error).sse_event()
                    else:
                        yield chunk
            except ActorError as exc:
                yield from_exception(exc).sse_event()

    response = Response(events(), content_type="text/event-stream", headers=_SSE_HEADERS)
    response.timeout = None  # an answer takes as long as it takes
    return response


def _json(body: bytes) -> Response:
    return Response(body, content_type="application/json")

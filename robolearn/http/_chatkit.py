"""``POST /chatkit``: parse, authorise, route to the thread's actor or the store, answer.

Routing: reads (``threads.list``, ``threads.get_by_id``, ``items.list``), renames, feedback
and attachment requests go straight to the store and run concurrently, never behind a running
answer; every other request that changes a thread goes through that thread's actor, so one
thread's requests are applied strictly in order.
Streaming answers start only after the first event exists, so anything that fails before
it (unknown thread, full mailbox, database down) still gets a proper 4xx/5xx JSON answer.
"""

from __future__ import annotations

import logging
import re
import unicodedata
import uuid
from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import AsyncExitStack

import trio
from chatkit.types import (
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    ChatKitReq,
    InputTranscribeReq,
    ItemsFeedbackReq,
    ItemsListReq,
    ThreadsCreateReq,
    ThreadsCustomActionReq,
    ThreadsGetByIdReq,
    ThreadsListReq,
    ThreadsUpdateReq,
    UserMessageInput,
)

from robolearn.actors import ActorError, Replies
from robolearn.chat import (
    REQUEST_ADAPTER,
    ChatJob,
    RequestContext,
    TurnFailed,
    parse_metadata,
    request_target,
)
from robolearn.obs import current_request_id
from robolearn.store import check_id

from ._errors import HttpError, from_exception
from ._exchange import Answer, ClientGone, Incoming
from ._gate import Gate
from ._services import HttpServices

__all__ = ["handle_chatkit"]

_log = logging.getLogger("robolearn.http")

# Never queued behind a thread's running answer: reads, and housekeeping that a turn cannot
# undo (renames are merged into the thread, feedback and attachments have rows of their own).
_DIRECT = (
    ThreadsListReq,
    ThreadsGetByIdReq,
    ItemsListReq,
    ThreadsUpdateReq,
    ItemsFeedbackReq,
    AttachmentsCreateReq,
    AttachmentsDeleteReq,
    InputTranscribeReq,
)

# Their own statement checks the thread is the user's (not found otherwise): a separate
# check first would be one more database round trip for nothing.
_CHECKS_ITSELF = (ThreadsUpdateReq, ItemsFeedbackReq)

_SSE_TYPE = "text/event-stream; charset=utf-8"
_SSE_HEADERS = {
    "Cache-Control": "no-cache",
    "X-Accel-Buffering": "no",  # proxies must pass each event on at once
}


async def handle_chatkit(services: HttpServices, gate: Gate, incoming: Incoming) -> Answer:
    """The answer to one ``POST /chatkit``; raises `ClientGone` if there is nobody to answer."""
    started = trio.current_time()
    kind = "unparsed"
    try:
        user_id, parsed = await _parse(gate, incoming)
        kind = parsed.type
        with services.tracing.span(f"chatkit {kind}", **{"chatkit.type": kind}):
            answer = await _handle(services, gate, incoming, user_id, parsed, started)
    except ClientGone:
        raise
    except Exception as exc:
        error = from_exception(exc)
        if error.status == 429:
            gate.metrics.rate_limited.labels(error.code).inc()
        answer = error.answer()
    gate.metrics.requests.labels(kind, str(answer.status)).inc()
    if answer.stream is None:  # streams are timed when they end
        gate.metrics.request_seconds.labels(kind).observe(trio.current_time() - started)
    return answer


async def _parse(gate: Gate, incoming: Incoming) -> tuple[str, ChatKitReq]:
    # Who is asking comes from the headers, before any of the body is read: a refused
    # request's body is not waited for, and its answer closes the connection (see _bodies).
    try:
        user_id = await gate.admit(incoming.headers)
    except Exception:
        # Except a small one, read and dropped: the keep-alive connection stays usable.
        await _drop_small_body(incoming)
        raise
    body = await _read_body(incoming, gate.max_body_bytes)
    parsed: ChatKitReq = REQUEST_ADAPTER.validate_json(body)
    _check_text(parsed.model_dump(mode="python", include={"params", "metadata"}))
    return user_id, parsed


async def _handle(
    services: HttpServices,
    gate: Gate,
    incoming: Incoming,
    user_id: str,
    parsed: ChatKitReq,
    started: float,
) -> Answer:
    user_info, page_context = parse_metadata(parsed.metadata)
    context = RequestContext(
        user_id=user_id,
        request_id=current_request_id() or uuid.uuid4().hex,
        user_info=user_info,
        page_context=page_context,
    )
    if isinstance(parsed, ThreadsCustomActionReq):
        # Its stream would open, then fail on chatkit's missing action() with a retryable
        # error: this server sends no widgets with actions, so no retry can succeed.
        raise HttpError(501, "not_implemented", "threads.custom_action is not supported here")
    target = request_target(parsed)
    thread_id = target.thread_id
    if thread_id is not None:
        check_id("thread id", thread_id)
    if target.message is not None:
        _check_not_empty(target.message)
        _check_length(target.message, services.settings.max_message_chars)
        _check_attachment_count(services, target.message.attachments)
    if isinstance(parsed, _DIRECT):
        if not isinstance(parsed, _CHECKS_ITSELF):
            await services.checks(ChatJob(parsed, context))
        return _json(await services.server.answer(parsed, context))
    if isinstance(parsed, ThreadsCreateReq):
        # Chosen here, so the new thread has its actor from the first event: the actor's
        # key is the id its turn has chatkit use.
        thread_id = services.store.generate_thread_id(context)
    if thread_id is None:
        raise HttpError(400, "invalid_request", f"{parsed.type} needs params.thread_id")

    streaming = target.streaming
    cancel_on_leave = streaming and services.settings.on_disconnect == "cancel"
    stack = AsyncExitStack()
    try:
        release_slot = None
        if streaming:
            # May ask the database (the user's cap across processes), so requests for one
            # thread are ordered by when they enter its mailbox, just below, not by when
            # their bodies arrived: nothing between here and there awaits.
            release_slot = await gate.streams.take(user_id)
            gate.metrics.active_streams.inc()
            stack.callback(gate.metrics.active_streams.dec)
        try:
            replies = services.actors.request(
                (user_id, thread_id), ChatJob(parsed, context, services.tracing.capture())
            )
        except BaseException:
            if release_slot is not None:
                release_slot()
            raise
        if release_slot is not None:
            # The user's stream slot is held by the turn, not by the connection: a client
            # that leaves (with ROBOLEARN_ON_DISCONNECT=finish) frees no slot while its
            # answer still runs, so closed connections cannot start answers without bound.
            replies.when_finished(release_slot)
        await stack.enter_async_context(replies)
        try:
            first = await _first_reply(replies)
        except BaseException as exc:
            if cancel_on_leave:
                # Cancelled here, the client left while the turn was queued or starting;
                # any other exception is the turn's own refusal, which ends it anyway.
                _cancel_unfinished(replies, client_left=isinstance(exc, trio.Cancelled))
            raise
    except BaseException:
        await stack.aclose()
        raise
    if cancel_on_leave:
        # Runs when the response is over: a turn still going then has lost its client
        # (Stop, a reload, a dropped connection), and ChatKit's Stop means stop.
        stack.callback(_cancel_unfinished, replies)
    if not streaming:
        await stack.aclose()
        return _json(first)
    gate.metrics.first_event_seconds.labels(parsed.type).observe(trio.current_time() - started)
    stream_seconds = gate.metrics.stream_seconds.labels(parsed.type)
    stack.callback(lambda: stream_seconds.observe(trio.current_time() - started))
    return _sse(first, replies, stack)


# NUL (PostgreSQL text and jsonb cannot hold it) and UTF-16 halves without their pair (not
# encodable as UTF-8): refused before anything is stored, so no write fails half-way.
_INVALID_TEXT = re.compile("[\x00\ud800-\udfff]")


def _check_text(value: object) -> None:
    if isinstance(value, str):
        if _INVALID_TEXT.search(value):
            raise HttpError(
                400,
                "invalid_text",
                "text may not contain NUL characters or unpaired UTF-16 surrogates",
            )
    elif isinstance(value, dict):
        for key, item in value.items():
            _check_text(key)
            _check_text(item)
    elif isinstance(value, list | tuple):
        for item in value:
            _check_text(item)


def _cancel_unfinished(replies: Replies[bytes | TurnFailed], *, client_left: bool = True) -> None:
    if not replies.finished:
        if client_left:
            _log.info("the client left a streaming answer: cancelling its turn")
        replies.cancel()


def _check_not_empty(new_input: UserMessageInput) -> None:
    # An attachment or a tag alone is a question; nothing at all is not, nor is text that
    # shows nothing (spaces, zero-width and control characters).
    if new_input.attachments or any(
        part.type == "input_tag" or any(map(_shows, part.text)) for part in new_input.content
    ):
        return
    raise HttpError(400, "empty_message", "the message has no text, tag or attachment")


def _shows(char: str) -> bool:
    return unicodedata.category(char) not in _INVISIBLE


_INVISIBLE = frozenset({"Cc", "Cf", "Zs", "Zl", "Zp"})  # controls, format characters, spaces


def _check_length(new_input: UserMessageInput, limit: int) -> None:
    # The quoted text goes to the model with the message, so it counts towards its length.
    length = sum(len(getattr(part, "text", "")) for part in new_input.content) + len(
        new_input.quoted_text or ""
    )
    if length > limit:
        raise HttpError(
            400, "message_too_long", f"a message may have at most {limit} characters, not {length}"
        )


def _check_attachment_count(services: HttpServices, attachment_ids: list[str]) -> None:
    limit = services.attachments.limits.max_per_message
    if len(attachment_ids) > limit:
        raise HttpError(400, "too_many_attachments", f"a message may carry at most {limit}")
    if len(set(attachment_ids)) != len(attachment_ids):
        # Each copy would be read and encoded for the model again.
        raise HttpError(400, "duplicate_attachment", "a message lists an attachment twice")


# A refused request's body up to this size is read (and dropped) before the refusal.
_DROPPED_BODY_BYTES = 64 << 10


async def _drop_small_body(incoming: Incoming) -> None:
    length = incoming.content_length
    if length is not None and length <= _DROPPED_BODY_BYTES:
        await incoming.read_body(length)


async def _read_body(incoming: Incoming, limit: int) -> bytes:
    length = incoming.content_length
    body = None if length is not None and length > limit else await incoming.read_body(limit)
    if body is None:
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


def _sse(first: bytes, replies: Replies[bytes | TurnFailed], stack: AsyncExitStack) -> Answer:
    async def events() -> AsyncGenerator[bytes, None]:
        # Whatever has queued up while the last write went out goes out as one write: under
        # load a stream then costs fewer writes, and no event waits for another.
        yield _joined([first, *replies.ready()])
        try:
            async for chunk in replies:
                yield _joined([chunk, *replies.ready()])
        except ActorError as exc:
            yield from_exception(exc).sse_event()

    # Released when the response is over, however it ended (a stream closed before its first
    # chunk never runs a line of its own). Leaving early (client gone) only closes our end
    # of the replies: the actor's turn goes on and persists the answer.
    return Answer(200, _SSE_TYPE, stream=events(), headers=_SSE_HEADERS, release=stack.aclose)


def _joined(chunks: list[bytes | TurnFailed]) -> bytes:
    return b"".join(
        from_exception(chunk.error).sse_event() if isinstance(chunk, TurnFailed) else chunk
        for chunk in chunks
    )


def _json(body: bytes) -> Answer:
    return Answer(200, "application/json", body)

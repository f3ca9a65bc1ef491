"""What a thread's actor does with one request: run it through chatkit, stream the bytes back.

The actor runtime (``robolearn.actors``) provides ordering, mailboxes and supervision; this is
the behaviour it is given for chat threads.
"""

from __future__ import annotations

import logging

import attrs
import trio
from chatkit.types import ChatKitReq, is_streaming_req

from robolearn._aio import open_aio_stream
from robolearn.actors import ReplySender
from robolearn.obs import Tracing, bind_log_context

from ._context import RequestContext
from ._server import RoboLearnChatKitServer

__all__ = ["ChatJob", "ChatTurns", "TurnFailed"]

_log = logging.getLogger("robolearn.chat")


@attrs.frozen
class ChatJob:
    """One request for a thread's actor."""

    request: ChatKitReq
    context: RequestContext
    # The requester's trace context: the turn's span continues the request's trace.
    trace: object | None = None


@attrs.frozen
class TurnFailed:
    """An expected failure of a turn (bad id, missing thread, database down), as a value.

    Sent instead of raising, so such failures do not count as actor crashes.
    """

    error: Exception


@attrs.frozen
class ChatTurns:
    """The thread actor's behaviour: one chatkit request per turn, in mailbox order.

    Streaming requests run in ONE asyncio task through the bridge; their SSE chunks go to the
    requester as they come. If the requester has gone (client disconnect), the turn still
    runs to the end, so the answer is persisted and a reload shows it.
    """

    server: RoboLearnChatKitServer
    expected: tuple[type[Exception], ...]
    tracing: Tracing = attrs.field(factory=Tracing)

    async def on_start(self, key: str) -> None:
        return None

    async def on_stop(self, key: str) -> None:
        return None

    async def handle(self, key: str, job: ChatJob, reply: ReplySender[bytes | TurnFailed]) -> None:
        with (
            bind_log_context(request_id=job.context.request_id, thread_id=key),
            self.tracing.resume(job.trace),
            self.tracing.span("actor.turn", **{"thread.id": key, "chatkit.type": job.request.type}),
        ):
            started = trio.current_time()
            _log.info("turn started: %s", job.request.type)
            try:
                await self._handle(key, job, reply)
            finally:
                elapsed = trio.current_time() - started
                _log.info("turn ended: %s in %.0f ms", job.request.type, elapsed * 1000)

    async def _handle(self, key: str, job: ChatJob, reply: ReplySender[bytes | TurnFailed]) -> None:
        request = job.request
        try:
            if is_streaming_req(request):
                async with open_aio_stream(
                    lambda: self.server.stream(request, job.context)
                ) as events:
                    async for chunk in events:
                        await reply.send(chunk)
            else:
                await reply.send(await self.server.answer(request, job.context))
        except self.expected as exc:
            await reply.send(TurnFailed(exc))

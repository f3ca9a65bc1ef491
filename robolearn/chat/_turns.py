"""What a thread's actor does with one request: run it through chatkit, stream the bytes back.

The actor runtime (``robolearn.actors``) provides ordering, mailboxes and supervision; this is
the behaviour it is given for chat threads.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import Final

import attrs
import trio
from chatkit.store import Store
from chatkit.types import (
    AttachmentsDeleteReq,
    ChatKitReq,
    ClientToolCallItem,
    StreamingReq,
    StructuredInputItem,
    ThreadsAddClientToolOutputReq,
    ThreadsAddStructuredInputReq,
    ThreadsCreateReq,
    ThreadsRetryAfterItemReq,
    UserMessageItem,
    is_streaming_req,
)

from robolearn._aio import run_aio_stream
from robolearn._memory import GarbageBudget
from robolearn.actors import ReplySender
from robolearn.obs import Tracing, bind_log_context
from robolearn.store import BlobStore, LimitExceeded, StoreUnavailable, ThreadLease, ThreadLocks

from ._context import RequestContext
from ._memo import ThreadMemo
from ._receipts import Receipts
from ._server import RoboLearnChatKitServer
from ._target import request_target
from ._turn_context import TurnContext

__all__ = [
    "ChatJob",
    "ChatTurns",
    "RequestChecks",
    "ThreadActor",
    "ThreadKey",
    "ThreadQuota",
    "TurnFailed",
]

_log = logging.getLogger("robolearn.chat")

# How long an interrupted turn may take to find out what it stored.
_OWED_TIMEOUT = 2.0


ThreadKey = tuple[str, str]
"""A thread actor's key: (owner's user id, thread id). Keyed by owner too, so requests naming
another user's thread never queue behind (or in front of) the owner's own."""


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
    requester as they come, straight from that task into the reply channel (which must be
    unbounded, the actor system's default: the asyncio side cannot wait for room). If the
    requester has gone (client disconnect), the turn still runs to the end, so the answer is
    persisted and a reload shows it.

    ``flush_interval``: after a write, the events of the next that many seconds go out as ONE
    write. The first event is never held back (time to first event is unchanged) and a slow
    model's deltas still go out one by one; a fast one's are grouped, which is most of what a
    busy server spends per answer (every write is a trip through the reply channel, the
    HTTP task, Hypercorn and a socket send). The client sees the same events either way. 0
    writes each group of ready events at once.
    """

    server: RoboLearnChatKitServer
    expected: tuple[type[Exception], ...]
    preflight: Callable[[ChatJob], Awaitable[None]] | None = None
    tracing: Tracing = attrs.field(factory=Tracing)
    flush_interval: float = 0.0
    # Collects the garbage of turns that read big attachments (see robolearn._memory).
    garbage: GarbageBudget | None = None
    # One writer per thread across processes: a turn runs under its thread's lock.
    locks: ThreadLocks | None = None

    def __call__(self, key: ThreadKey) -> ThreadActor:
        """The behaviour of a new incarnation of ``key``'s actor (a `BehaviourFactory`)."""
        return ThreadActor(self, ThreadMemo(key[1]))

    async def handle(
        self,
        key: ThreadKey,
        job: ChatJob,
        reply: ReplySender[bytes | TurnFailed],
        memo: ThreadMemo | None = None,
    ) -> None:
        _, thread_id = key
        context = TurnContext.of(
            job.context,
            memo=memo,
            receipts=Receipts() if is_streaming_req(job.request) else None,
            # The actor's key is the id chosen for the thread this request creates.
            new_thread_id=thread_id if isinstance(job.request, ThreadsCreateReq) else None,
        )
        job = attrs.evolve(job, context=context)
        with (
            bind_log_context(request_id=job.context.request_id, thread_id=thread_id),
            self.tracing.resume(job.trace),
            self.tracing.span(
                "actor.turn", **{"thread.id": thread_id, "chatkit.type": job.request.type}
            ),
        ):
            started = trio.current_time()
            _log.info("turn started: %s", job.request.type)
            try:
                await self._handle(job, context, reply)
            finally:
                elapsed = trio.current_time() - started
                _log.info("turn ended: %s in %.0f ms", job.request.type, elapsed * 1000)
                if self.garbage is not None:
                    self.garbage.collect_if_due()

    async def _handle(
        self, job: ChatJob, context: TurnContext, reply: ReplySender[bytes | TurnFailed]
    ) -> None:
        request = job.request
        try:
            if self.preflight is not None:
                # Checks that need the database run here, in mailbox order: awaited before
                # enqueueing, they would let a later request overtake an earlier one. They
                # get the turn's context, so what the memo knows is not read again.
                await self.preflight(job)
            if is_streaming_req(request):
                await self._stream(request, context, reply)
            else:
                await reply.send(await self.server.answer(request, context))
        except self.expected as exc:
            await reply.send(TurnFailed(exc))

    async def _stream(
        self, request: StreamingReq, context: TurnContext, reply: ReplySender[bytes | TurnFailed]
    ) -> None:
        receipts = context.receipts
        assert receipts is not None  # every streaming turn has them

        def forward(chunks: list[bytes]) -> None:
            # Straight from the pump to the requester: no trip through this actor's task.
            chunk = b"".join(chunks)
            reply.send_nowait(chunk)
            receipts.delivered(chunk)

        try:
            await run_aio_stream(
                lambda: self.server.stream(request, context), forward, hold=self.flush_interval
            )
        except BaseException:
            if receipts.owed and not reply.receiver_gone:
                await self._send_owed(receipts, context, reply)
            raise

    async def _send_owed(
        self, receipts: Receipts, context: TurnContext, reply: ReplySender[bytes | TurnFailed]
    ) -> None:
        """Report what the interrupted turn stored before its events could say so."""
        # Shielded: a cancelled turn is the usual reason to be here. Bounded: a database that
        # does not answer must not hold the actor (or shutdown) up.
        with trio.CancelScope(shield=True, deadline=trio.current_time() + _OWED_TIMEOUT):
            try:
                owed = await self.server.owed_events(receipts, context)
            except Exception as exc:
                _log.warning("cannot tell whether the interrupted turn stored its message: %r", exc)
                return
            if owed:
                await reply.send(owed)


@attrs.define
class ThreadActor:
    """One incarnation of a thread's actor: the shared turns plus what it remembers.

    A new incarnation (first message, after passivation or a crash) starts with an empty
    memo, so nothing it remembers outlives the actor that wrote it.

    With thread locks, each turn runs under the thread's lock, taken before the turn's first
    read and kept while mail is waiting, then given back when the mailbox is empty
    (``on_idle``) or, if another process waits for it, after the turn. A lock that was given
    back and taken again brings the thread's version, which the memo checks. A turn whose lock
    is lost (the lock session ended) is cancelled, as if stopped, and its requester told.
    """

    turns: ChatTurns
    memo: ThreadMemo
    # The lease the memo was last checked against.
    lease: ThreadLease | None = None

    async def on_start(self, key: ThreadKey) -> None:
        return None

    async def handle(
        self, key: ThreadKey, job: ChatJob, reply: ReplySender[bytes | TurnFailed]
    ) -> None:
        locks = self.turns.locks
        if locks is None:
            await self.turns.handle(key, job, reply, self.memo)
            return
        try:
            lease = await locks.acquire(*key)
        except StoreUnavailable as exc:
            await reply.send(TurnFailed(exc))
            return
        if lease is not self.lease:
            self.lease = lease
            if self.memo.version is not None and self.memo.version != lease.version:
                _log.debug(
                    "thread written elsewhere (version %s, remembered %s): memo dropped",
                    lease.version,
                    self.memo.version,
                )
            self.memo.check(lease.version)
        with lease.guard() as guard:
            await self.turns.handle(key, job, reply, self.memo)
        if guard.cancelled_caught:
            self.memo.forget()
            await reply.send(
                TurnFailed(StoreUnavailable("database unavailable: the thread's lock was lost"))
            )
        elif lease.contended:
            locks.release(*key)

    async def on_idle(self, key: ThreadKey) -> None:
        if self.turns.locks is not None:
            self.turns.locks.release(*key)

    async def on_stop(self, key: ThreadKey) -> None:
        if self.turns.locks is not None:
            self.turns.locks.release(*key)


@attrs.frozen
class ThreadQuota:
    """At most ``limit`` threads per user: a new one is refused beyond.

    Checked when a thread is created, so a user's creates racing each other (at most as many
    as they may stream at once) can end a few threads over.
    """

    limit: int
    count: Callable[[RequestContext], Awaitable[int]]

    async def check(self, context: RequestContext) -> None:
        threads = await self.count(context)
        if threads >= self.limit:
            raise LimitExceeded(
                "thread_quota_exceeded",
                f"you have {threads} conversations, the most one user may keep ({self.limit});"
                " delete some to start new ones",
            )


# The item a request names must be of this kind ("what" says which, in the refusal).
_ITEM_KINDS: Final[dict[type, tuple[type, str]]] = {
    ThreadsRetryAfterItemReq: (UserMessageItem, "a user message: only those are retried"),
    ThreadsAddStructuredInputReq: (StructuredInputItem, "a structured input"),
}


@attrs.frozen
class RequestChecks:
    """What must hold before chatkit sees a request, where the database has to say.

    Another user's thread is "not found" for every request type; chatkit would answer an
    unknown retry item with an empty stream, and a missing attachment half-way through.
    """

    store: Store[RequestContext]
    blobs: BlobStore
    thread_quota: ThreadQuota | None = None

    async def __call__(self, job: ChatJob) -> None:
        request, context = job.request, job.context
        if isinstance(request, ThreadsCreateReq) and self.thread_quota is not None:
            await self.thread_quota.check(context)
        target = request_target(request)
        # Before chatkit: it would log an unknown thread as a server error, with a traceback,
        # and some requests (delete, feedback) would not look at all.
        if target.thread_id is not None:
            await self.store.load_thread(target.thread_id, context)
        # Requests chatkit would refuse with a ValueError only after logging it as a server
        # error, with a traceback: the client's mistake, said before chatkit sees it.
        if isinstance(request, ThreadsRetryAfterItemReq | ThreadsAddStructuredInputReq):
            kind, what = _ITEM_KINDS[type(request)]
            item = await self.store.load_item(
                request.params.thread_id, request.params.item_id, context
            )
            if not isinstance(item, kind):
                raise ValueError(f"item {item.id} is not {what}")
        if isinstance(request, ThreadsAddClientToolOutputReq):
            last = await self.store.load_thread_items(
                request.params.thread_id, None, 1, "desc", context
            )
            if not any(
                isinstance(item, ClientToolCallItem) and item.status == "pending"
                for item in last.data
            ):
                raise ValueError("no client tool call is waiting for its output in this thread")
        if isinstance(request, AttachmentsDeleteReq):
            # Deleting an attachment that is not the user's is "not found", as reading it is.
            await self.store.load_attachment(request.params.attachment_id, context)
        if target.message is not None and target.message.attachments:
            await self.blobs.check_uploaded(target.message.attachments, context)

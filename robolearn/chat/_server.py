"""Runs on both sides of the bridge: ``stream`` (chatkit's streaming path, ``respond``) as
asyncio inside trio-asyncio's loop; ``answer``, ``owed_events`` and the rest from trio.

RoboLearnChatKitServer: chatkit's server with the tutor's ``respond`` and safe defaults.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Sequence
from contextlib import aclosing
from typing import Any, cast

import attrs
from agents import Agent, RunConfig, Runner
from agents.models.interface import Model
from agents.tool import Tool
from chatkit.agents import AgentContext, ThreadItemConverter, stream_agent_response
from chatkit.server import ChatKitServer
from chatkit.store import AttachmentStore, NotFoundError, Store
from chatkit.types import (
    AudioInput,
    ChatKitReq,
    FeedbackKind,
    NonStreamingReq,
    StreamingReq,
    StreamOptions,
    ThreadCreatedEvent,
    ThreadItem,
    ThreadItemDoneEvent,
    ThreadItemUpdatedEvent,
    ThreadMetadata,
    ThreadStreamEvent,
    ThreadsUpdateReq,
    TranscriptionResult,
    UserMessageItem,
)
from pydantic import BaseModel, PrivateAttr, TypeAdapter

from robolearn import _aio
from robolearn.obs import Tracing
from robolearn.store import TooLong

from ._context import PageContext, RequestContext, UserInfo
from ._failures import as_stream_error
from ._ids import FreshItemIds
from ._links import AttachmentLinks
from ._memo_store import ThreadMerging
from ._models import NotConfigured
from ._observe import ObservingHooks, RunObserver
from ._prompt import build_instructions
from ._receipts import Receipts
from ._titles import first_words_title

__all__ = ["REQUEST_ADAPTER", "FeedbackSink", "RoboLearnChatKitServer"]

_log = logging.getLogger("robolearn.chat")

# chatkit's process() builds this adapter per request (~3 ms of CPU each); build it once.
REQUEST_ADAPTER = TypeAdapter[ChatKitReq](ChatKitReq)

FeedbackSink = Callable[[str, Sequence[str], FeedbackKind, RequestContext], Awaitable[int]]
"""Records a user's vote on items of their thread: ``(thread_id, item_ids, kind, context)``
to the number of votes recorded (``PostgresStore.save_feedback``); ``NotFoundError`` for a
thread that is not the user's."""

_HISTORY_LIMIT = 10
# How long a finished first answer waits for the model's title before the first-words one
# stays: titles are short, and usually ready before the answer is.
_TITLE_WAIT = 5.0
_CONTEXT_KEY = "robolearn"


class RoboLearnChatKitServer(ChatKitServer[RequestContext]):
    """The tutor: history + user/page context in, a streamed cited answer out.

    The Agents SDK model and tools are injected, so tests, benchmarks and production share
    this one code path. It calls and overrides private chatkit methods (``_process_*``,
    ``_serialize``, ``_to_thread_response``, ``_update_pending_items``): installing the
    patches (``robolearn._patches._chatkit``) checks chatkit still has them.
    """

    def __init__(
        self,
        store: Store[RequestContext],
        attachment_store: AttachmentStore[RequestContext] | None = None,
        *,
        model: Model,
        tools: Sequence[Tool] = (),
        converter_for: Callable[[RequestContext], ThreadItemConverter] | None = None,
        history_limit: int = _HISTORY_LIMIT,
        observer: RunObserver | None = None,
        tracing: Tracing | None = None,
        titler: Callable[[UserMessageItem], Awaitable[str | None]] | None = None,
        allow_cancel: bool = True,
        transcriber: Callable[[AudioInput], Awaitable[str]] | None = None,
        feedback: FeedbackSink | None = None,
        links: AttachmentLinks | None = None,
        max_title_chars: int | None = None,
    ) -> None:
        super().__init__(store, attachment_store)
        # Attachments are sent with fresh links (signed previews): see _serialize.
        self._links = links
        self._max_title_chars = max_title_chars
        self._observer = observer
        self._titler = titler
        self._allow_cancel = allow_cancel
        self._transcriber = transcriber
        # Votes go to their own sink, not through ``store``: that may be a memo wrapper that
        # only knows threads and items.
        self._feedback = feedback
        self._tracing = tracing or Tracing()
        self._model = model
        self._tools = list(tools)
        # Per request: converting attachments reads their bytes as the requesting user.
        self._converter_for = converter_for or (lambda _context: ThreadItemConverter())
        self._history_limit = history_limit
        # One for every run: the Agents SDK reads it and never changes it, and building one
        # builds a model provider (clients, caches) that our own model never asks for.
        # Traces would go to OpenAI; observability is ours (logs, metrics, OTel).
        self._run_config = RunConfig(tracing_disabled=True)
        self._model_name = type(getattr(model, "inner", model)).__name__  # under coalescing
        self._agent = Agent[AgentContext[RequestContext]](
            name="RoboLearn Assistant", model=model, tools=self._tools
        )

    # -- entry points used by the HTTP layer and the thread actors -----------------------------

    def stream(self, request: StreamingReq, context: RequestContext) -> AsyncIterator[bytes]:
        """SSE bytes for a streaming request (asyncio code: run it through the bridge)."""
        return self._process_streaming(request, context)

    async def answer(self, request: NonStreamingReq, context: RequestContext) -> bytes:
        """JSON bytes for a non-streaming request (plain store calls: safe from trio)."""
        if isinstance(request, ThreadsUpdateReq):
            self._check_title(request.params.title)
        if isinstance(request, ThreadsUpdateReq) and isinstance(self.store, ThreadMerging):
            # Renames do not wait for a running turn; set the title alone, so neither
            # undoes the other's changes (chatkit would save the whole thread it read).
            thread = await self.store.merge_thread(
                request.params.thread_id, {"title": request.params.title}, None, context
            )
            return self._serialize(self._to_thread_response(thread))
        return await self._process_non_streaming(request, context)

    def _serialize(self, obj: BaseModel) -> bytes:
        # Every response and stream event chatkit sends passes here (chatkit 1.6.5): the one
        # place where stored attachments get the links that are valid now.
        fresh = self._links.serialize(obj) if self._links is not None else None
        return fresh if fresh is not None else super()._serialize(obj)

    def _check_title(self, title: str) -> None:
        limit = self._max_title_chars
        if limit is not None and len(title) > limit:
            raise TooLong(
                "title_too_long", f"a title may have at most {limit} characters, not {len(title)}"
            )

    def _fit_title(self, title: str) -> str:
        # Titles the server writes are short already; this holds under a small limit too.
        limit = self._max_title_chars
        return title if limit is None or len(title) <= limit else title[: limit - 1] + "…"

    async def owed_events(self, receipts: Receipts, context: RequestContext) -> bytes:
        """SSE events for the writes in ``receipts`` that did happen (plain store calls).

        A write whose outcome is unknown (cancelled mid-way) is looked up: reported if it is
        stored, left out if not.
        """
        chunks = []
        for record in receipts.owed:
            event: ThreadStreamEvent
            try:
                if isinstance(record, UserMessageItem):
                    item = await self.store.load_item(record.thread_id, record.id, context)
                    event = ThreadItemDoneEvent(item=item)
                else:
                    thread = await self.store.load_thread(record.id, context)
                    event = ThreadCreatedEvent(thread=self._to_thread_response(thread))
            except NotFoundError:
                continue
            chunks.append(b"data: " + self._serialize(event) + b"\n\n")
        return b"".join(chunks)

    async def transcribe(
        self, audio_input: AudioInput, context: RequestContext
    ) -> TranscriptionResult:
        if self._transcriber is None:
            raise NotConfigured(
                "dictation is not configured on this server (it needs a model provider and "
                "ROBOLEARN_TRANSCRIPTION_MODEL)"
            )
        return TranscriptionResult(text=await self._transcriber(audio_input))

    def get_stream_options(self, thread: ThreadMetadata, context: RequestContext) -> StreamOptions:
        # The widget shows Stop only when closing the stream stops the answer: with
        # ROBOLEARN_ON_DISCONNECT=finish it would not.
        return StreamOptions(allow_cancel=self._allow_cancel)

    async def add_feedback(
        self,
        thread_id: str,
        item_ids: list[str],
        feedback: FeedbackKind,
        context: RequestContext,
    ) -> None:
        """Record ``items.feedback``: the user's latest vote on each item counts.

        Items not in the thread are ignored; another user's thread is ``NotFoundError``.
        Without a feedback sink the request is refused rather than dropped.
        """
        if self._feedback is None:
            raise NotImplementedError("this server records no feedback")
        recorded = await self._feedback(thread_id, item_ids, feedback, context)
        _log.info("feedback %s recorded on %d of %d items", feedback, recorded, len(item_ids))
        if self._observer is not None:
            self._observer.feedback_recorded(feedback, recorded)

    # -- the tutor -----------------------------------------------------------------------------

    async def respond(
        self,
        thread: ThreadMetadata,
        input_user_message: UserMessageItem | None,
        context: RequestContext,
    ) -> AsyncIterator[ThreadStreamEvent]:
        user, page = self._remember_context(thread, context)
        pending_title: Awaitable[str | None] | None = None
        if thread.title is None and input_user_message is not None:
            thread.title = self._fit_title(first_words_title(input_user_message))
            # chatkit saves the thread only after the answer: a stopped first answer would
            # leave the new thread untitled in the list.
            await self.store.save_thread(thread, context)
            if self._titler is not None:
                # Written while the answer streams, so it never delays the answer.
                pending_title = _aio.spawn(self._titler(input_user_message))
        history = await self._history(thread, input_user_message, context)
        if (
            history
            and input_user_message is not None
            and _same_message(history[-1], input_user_message)
        ):
            # A process that stored the message but died before it could say so leaves it
            # unanswered; the client, never told, sent it again. One copy is enough.
            await self.store.delete_thread_item(thread.id, history.pop().id, context)
            _log.info("a resent message replaces its unanswered copy")
        _log.info("running the tutor with %d history items", len(history))
        new = [input_user_message] if input_user_message is not None else []
        agent_input = await self._converter_for(context).to_agent_input([*history, *new])
        # A copy per run: the Agents SDK tracks the runs of one Agent object together (a check
        # that costs O(runs in flight) per step); building a new one resolves the Agent
        # dataclass's type hints (~0.1 ms) for the same fields every time.
        agent = copy.copy(self._agent)
        agent.instructions = build_instructions(user, page)
        agent_context = _AgentContext(
            thread=thread,
            store=self.store,
            # Tools (the book search) see the remembered user and page as well: follow-ups
            # often arrive without metadata.
            request_context=attrs.evolve(context, user_info=user, page_context=page),
        )
        hooks = ObservingHooks(self._observer, self._tracing)
        run_span = self._tracing.span("agent.run", **{"agent.model": self._model_name})
        run_span.__enter__()
        result = Runner.run_streamed(
            agent,
            agent_input,
            context=agent_context,
            hooks=hooks,
            run_config=self._run_config,
        )
        try:
            converted = cast(
                AsyncGenerator[ThreadStreamEvent, None],
                stream_agent_response(agent_context, result),
            )
            fresh = FreshItemIds(lambda: self.store.generate_item_id("message", thread, context))
            async with aclosing(converted):
                async for event in self._persist_late_updates(converted, thread, context, fresh):
                    yield event
            if pending_title is not None:
                # chatkit saves the changed thread and sends thread.updated after this.
                title = await _aio.wait_at_most(_TITLE_WAIT, pending_title)
                thread.title = self._fit_title(title) if title else thread.title
        except Exception as exc:
            # chatkit would end the answer with an error event that says nothing.
            raise as_stream_error(exc) from exc
        finally:
            # Without this the model run goes on after the reader is gone (cancel, disconnect).
            result.cancel()
            hooks.finish()
            run_span.__exit__(None, None, None)

    async def _history(
        self, thread: ThreadMetadata, current: UserMessageItem | None, context: RequestContext
    ) -> list[ThreadItem]:
        """The last few items before ``current``, oldest first, without ``current`` itself."""
        page = await self.store.load_thread_items(
            thread.id, None, self._history_limit + 1, "desc", context
        )
        skip = current.id if current is not None else None
        # Hidden context stays: chatkit's "the user cancelled" note is what keeps the next
        # answer from continuing a stopped one.
        items = [item for item in page.data if item.id != skip]
        return list(reversed(items[: self._history_limit]))

    def _remember_context(
        self, thread: ThreadMetadata, context: RequestContext
    ) -> tuple[UserInfo | None, PageContext | None]:
        """Merge this request's user/page context with what the thread last saw.

        Clients often send metadata only with the first message; follow-ups must keep it.
        Storing it on the thread (chatkit saves a changed thread) survives restarts and
        actor passivation.
        """
        known: dict[str, Any] = dict(thread.metadata.get(_CONTEXT_KEY) or {})
        user = context.user_info or _maybe(UserInfo, known.get("userInfo"))
        page = context.page_context or _maybe(PageContext, known.get("pageContext"))
        remembered = {
            name: value.model_dump(by_alias=True, exclude_none=True)
            for name, value in (("userInfo", user), ("pageContext", page))
            if value is not None
        }
        if remembered != known:
            thread.metadata = {**thread.metadata, _CONTEXT_KEY: remembered}
        return user, page

    async def _persist_late_updates(
        self,
        events: AsyncIterator[ThreadStreamEvent],
        thread: ThreadMetadata,
        context: RequestContext,
        rewrite: Callable[[ThreadStreamEvent], ThreadStreamEvent] = lambda event: event,
    ) -> AsyncIterator[ThreadStreamEvent]:
        """Save updates to items that are already done; chatkit only persists done events.

        ``rewrite`` is applied to each event first (fresh item ids): in this loop rather than
        a generator of its own, which would be one more hop for every streamed event.
        """
        done: dict[str, ThreadItem] = {}
        async for event in events:
            event = rewrite(event)
            if isinstance(event, ThreadItemDoneEvent):
                done[event.item.id] = event.item
            elif isinstance(event, ThreadItemUpdatedEvent) and event.item_id in done:
                # Copied here, not when done: late updates are rare, and the done event's
                # item (already sent and saved) must stay as it was.
                done[event.item_id] = done[event.item_id].model_copy(deep=True)
                self._update_pending_items(done, event)
                await self.store.save_item(thread.id, done[event.item_id], context)
            yield event


class _AgentContext(AgentContext[RequestContext]):
    """chatkit's AgentContext with its event queue made new, not deep-copied.

    chatkit declares the queue as a class-level default, which pydantic deep-copies for every
    instance: copying a whole asyncio queue per turn was 3% of a busy server's CPU.
    """

    _events: Any = PrivateAttr(default_factory=_aio.new_queue)


def _maybe(model: type[UserInfo] | type[PageContext], value: object) -> Any:
    if not isinstance(value, dict):
        return None
    try:
        return model.model_validate(value)
    except ValueError:
        return None


def _same_message(earlier: ThreadItem, message: UserMessageItem) -> bool:
    """Whether ``earlier`` is the same user message as ``message``: text, quote and
    attachments (by id: a resent message carries the attachments it was sent with)."""
    return (
        isinstance(earlier, UserMessageItem)
        and earlier.content == message.content
        and earlier.quoted_text == message.quoted_text
        and [a.id for a in earlier.attachments] == [a.id for a in message.attachments]
    )

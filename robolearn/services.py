"""The long-lived parts of a running server, opened together and closed in reverse order."""

from __future__ import annotations

import logging
import secrets
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager, nullcontext
from functools import partial
from pathlib import Path
from typing import cast

import attrs
import trio
from agents import RunConfig
from agents.models.interface import Model
from chatkit.store import Store
from openai import AsyncOpenAI

from robolearn._aio import open_asyncio_loop, run_aio
from robolearn._memory import GarbageBudget, collect_when_idle
from robolearn.actors import ActorSettings, ActorSystem, open_actor_system
from robolearn.chat import (
    AttachmentLimits,
    AttachmentLinks,
    BlobAttachmentStore,
    ChatJob,
    ChatTurns,
    CoalescingModel,
    LocalTutorModel,
    MemoStore,
    ModelInputConverter,
    ModelTitler,
    PreviewSigner,
    ProviderTranscriber,
    RequestChecks,
    RequestContext,
    RoboLearnChatKitServer,
    ThreadKey,
    ThreadQuota,
    TurnFailed,
    build_model,
    probe_provider,
    provider_client,
    search_tool,
)
from robolearn.config import Settings
from robolearn.obs import Metrics, Tracing
from robolearn.rag import (
    EvalQuestion,
    LiveIndex,
    OpenAIEmbedder,
    RagRepository,
    VectorSearch,
    demo_lessons,
    load_asked,
)
from robolearn.store import (
    BlobLimits,
    BlobStore,
    NotFoundError,
    PostgresStore,
    PostgresSupervisor,
    SharedRates,
    StoreUnavailable,
    StreamSlotLocks,
    ThreadLocks,
    open_store,
    open_stream_slot_locks,
    open_thread_locks,
)

__all__ = ["ChatActors", "Services", "open_services"]

_log = logging.getLogger("robolearn")

ChatActors = ActorSystem[ThreadKey, ChatJob, bytes | TurnFailed]


@attrs.frozen
class Services:
    """What request handlers need; built once per process by :func:`open_services`."""

    settings: Settings
    store: PostgresStore
    server: RoboLearnChatKitServer
    actors: ChatActors
    checks: RequestChecks
    attachments: BlobAttachmentStore
    metrics: Metrics
    tracing: Tracing
    textbook: LiveIndex
    # Restarts the embedded PostgreSQL if it dies; None with a DATABASE_URL.
    postgres: PostgresSupervisor | None = None
    # Per-user limits kept in the database for every process; None with ROBOLEARN_LIMITS=local.
    rates: SharedRates | None = None
    stream_locks: StreamSlotLocks | None = None
    # One writer per thread across processes; None when turned off.
    locks: ThreadLocks | None = None
    # Which process this is: "main", or "worker-K" under `robolearn serve --workers`.
    process: str = "main"


@asynccontextmanager
async def open_services(
    settings: Settings,
    *,
    model: Model | None = None,
    tracing: Tracing | None = None,
    process: str = "main",
) -> AsyncIterator[Services]:
    """Open the asyncio bridge, the store (embedded PostgreSQL when no DATABASE_URL), the
    textbook index and the thread actors; close them in reverse order, so running turns
    finish (or persist their partial answers) while the database is still there.

    ``model`` overrides the one Settings choose (tests inject scripted models); ``process``
    names this process in the metrics.
    """
    owned = tracing is None
    tracing = tracing or Tracing.from_env()
    try:
        async with open_asyncio_loop():
            supervisor = None
            if settings.database_url is None:
                _log.info(
                    "DATABASE_URL not set: using embedded PostgreSQL in %s", settings.data_dir
                )
                supervisor = PostgresSupervisor()
            async with (
                open_store(
                    settings.database_url,
                    data_dir=settings.data_dir,
                    pool_min=settings.db_pool_min,
                    pool_max=settings.db_pool_max,
                    db_timeout=settings.db_timeout,
                    tracing=tracing,
                    supervisor=supervisor,
                ) as store,
                _thread_locks(settings, store) as locks,
            ):
                # The book the tutor searches; an empty database gets the demo corpus.
                textbook = LiveIndex(
                    RagRepository(store),
                    seed=demo_lessons(settings.site_url),
                    asked=await _question_bank(settings.asked_dir),
                )
                # Fused into the search when configured; `robolearn ingest` stores the vectors.
                vectors = (
                    VectorSearch(
                        RagRepository(store),
                        OpenAIEmbedder(
                            settings.embedding_model,
                            settings.openai_api_key,
                            settings.embedding_base_url,
                        ),
                    )
                    if settings.embedding_model
                    else None
                )
                client = provider_client(settings) if model is None else None
                chosen = model or build_model(settings, client, local=LocalTutorModel())
                # Titles from the provider's model; the offline and scripted ones keep the
                # first words of the first message.
                titler = (
                    ModelTitler(chosen, RunConfig(tracing_disabled=True))
                    if client is not None and settings.titles == "model"
                    else None
                )
                if settings.stream_flush_ms:
                    chosen = CoalescingModel(chosen)
                metrics = Metrics(process=process)
                garbage = GarbageBudget()
                blobs = BlobStore(
                    store,
                    BlobLimits(
                        bytes_per_user=settings.max_attachment_bytes_per_user,
                        slot_ttl=settings.upload_slot_ttl,
                    ),
                )
                links = _attachment_links(settings)
                attachments = BlobAttachmentStore(
                    blobs,
                    links,
                    AttachmentLimits(
                        max_bytes=settings.max_attachment_bytes,
                        max_name_chars=settings.max_attachment_name_chars,
                    ),
                )
                # PostgresStore serves any context that names a user; RequestContext does.
                # Thread actors' turns are served from their memo where they can.
                thread_store = MemoStore(cast("Store[RequestContext]", store))
                server = RoboLearnChatKitServer(
                    thread_store,
                    attachments,
                    model=chosen,
                    tools=[search_tool(lambda: textbook.current, vectors)],
                    converter_for=lambda context: ModelInputConverter(
                        blobs,
                        context,
                        garbage,
                        inline_history=settings.history_attachments == "inline",
                    ),
                    observer=metrics,
                    tracing=tracing,
                    titler=titler,
                    allow_cancel=settings.on_disconnect == "cancel",
                    transcriber=(
                        ProviderTranscriber(client, settings.transcription_model)
                        if client is not None and settings.transcription_model
                        else None
                    ),
                    feedback=store.save_feedback,
                    links=links,
                    max_title_chars=settings.max_title_chars,
                )
                checks = RequestChecks(
                    thread_store,
                    blobs,
                    ThreadQuota(settings.max_threads_per_user, store.count_threads),
                )
                turns = ChatTurns(
                    server,
                    expected=(NotFoundError, StoreUnavailable, ValueError, NotImplementedError),
                    preflight=checks,
                    tracing=tracing,
                    flush_interval=settings.stream_flush_ms / 1000,
                    garbage=garbage,
                    locks=locks,
                )
                actor_settings = ActorSettings(
                    mailbox_capacity=settings.mailbox_capacity,
                    idle_timeout=settings.actor_idle_timeout,
                    # Turns get the grace period while the HTTP server drains its streams; at
                    # its end serve.py cancels those still streaming. Turns nobody reads any
                    # more get only a short final wait here before they are checkpointed.
                    shutdown_grace=min(2.0, settings.shutdown_grace),
                )
                shared = settings.limits == "shared"
                rates = SharedRates(store) if shared else None
                async with (
                    _closing_client(client),
                    textbook.running(settings.rag_refresh_seconds),
                    # Closed after the actors: a turn's slot is given back when it ends.
                    open_stream_slot_locks(store) if shared else nullcontext() as stream_locks,
                    open_actor_system(turns, actor_settings) as actors,
                    trio.open_nursery() as nursery,
                ):
                    if client is not None:
                        nursery.start_soon(partial(probe_provider, client))
                    nursery.start_soon(collect_when_idle, garbage)
                    # Slots whose bytes never came, of users who never announce again.
                    nursery.start_soon(
                        blobs.sweep_periodically, min(settings.upload_slot_ttl / 2, 600.0)
                    )
                    if rates is not None:
                        # Buckets full again: their users' next requests start afresh anyway.
                        nursery.start_soon(rates.sweep_periodically, 60.0)
                    yield Services(
                        settings=settings,
                        store=store,
                        server=server,
                        actors=actors,
                        checks=checks,
                        attachments=attachments,
                        textbook=textbook,
                        metrics=metrics,
                        tracing=tracing,
                        postgres=supervisor,
                        rates=rates,
                        stream_locks=stream_locks,
                        locks=locks,
                        process=process,
                    )
                    nursery.cancel_scope.cancel()
    finally:
        if owned:
            tracing.shutdown()  # flush the spans of the last requests


async def _question_bank(folder: Path | None) -> Sequence[EvalQuestion]:
    """What the textbook's search learns from: the question sets in ``folder`` (None: none)."""
    if folder is None:
        return ()
    return await trio.to_thread.run_sync(load_asked, folder)


def _attachment_links(settings: Settings) -> AttachmentLinks:
    if settings.preview_key is None:
        _log.info("ROBOLEARN_PREVIEW_KEY not set: preview links work until this process stops")
    if settings.cors_origins and settings.public_url is None:
        _log.warning(
            "ROBOLEARN_PUBLIC_URL is not set: attachment links are relative paths, which a"
            " page on another origin (ROBOLEARN_CORS_ORIGINS) resolves against its own site"
        )
    key = settings.preview_key.encode() if settings.preview_key else secrets.token_bytes(32)
    return AttachmentLinks(PreviewSigner(key, settings.preview_ttl), settings.public_url)


@asynccontextmanager
async def _thread_locks(
    settings: Settings, store: PostgresStore
) -> AsyncIterator[ThreadLocks | None]:
    """The thread locks of this process, on their own session to the store's database.

    Closed after the actors (opened before them): the session's end frees every lock.
    """
    if not settings.thread_locks:
        yield None
        return
    async with open_thread_locks(
        store.conninfo, retry=settings.thread_lock_retry, connect_timeout=settings.db_timeout
    ) as locks:
        yield locks


@asynccontextmanager
async def _closing_client(client: AsyncOpenAI | None) -> AsyncIterator[None]:
    """Close the provider client's connections (asyncio code) when the server stops."""
    try:
        yield
    finally:
        if client is not None:
            with trio.CancelScope(shield=True):
                await run_aio(client.close)

"""What the HTTP layer uses of the running services.

The composition root (``robolearn.services``) builds them; http names here only the parts it
calls, so the dependency points one way: ``services.Services`` is an `HttpServices`, and
nothing in http imports it.
"""

from __future__ import annotations

from typing import Protocol

from robolearn.actors import ActorSystem
from robolearn.chat import (
    BlobAttachmentStore,
    ChatJob,
    RequestChecks,
    RoboLearnChatKitServer,
    ThreadKey,
    TurnFailed,
)
from robolearn.config import Settings
from robolearn.obs import Metrics, Tracing
from robolearn.rag import LiveIndex
from robolearn.store import (
    PostgresStore,
    PostgresSupervisor,
    SharedRates,
    StreamSlotLocks,
    ThreadLocks,
)

__all__ = ["HttpServices"]


class HttpServices(Protocol):
    """The services the routes answer from (read-only: built once per process)."""

    @property
    def settings(self) -> Settings: ...
    @property
    def store(self) -> PostgresStore: ...
    @property
    def server(self) -> RoboLearnChatKitServer: ...
    @property
    def actors(self) -> ActorSystem[ThreadKey, ChatJob, bytes | TurnFailed]: ...
    @property
    def checks(self) -> RequestChecks: ...
    @property
    def attachments(self) -> BlobAttachmentStore: ...
    @property
    def metrics(self) -> Metrics: ...
    @property
    def tracing(self) -> Tracing: ...
    @property
    def textbook(self) -> LiveIndex: ...
    @property
    def postgres(self) -> PostgresSupervisor | None:
        """Restarts the embedded PostgreSQL if it dies; None with a DATABASE_URL."""

    @property
    def rates(self) -> SharedRates | None:
        """Per-user limits kept in the database for every process; None when local."""

    @property
    def stream_locks(self) -> StreamSlotLocks | None: ...
    @property
    def locks(self) -> ThreadLocks | None:
        """One writer per thread across processes; None when turned off."""

    @property
    def process(self) -> str:
        """Which process answers: "main", or "worker-K" under ``serve --workers``."""

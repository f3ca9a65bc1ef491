"""ChatKit storage on PostgreSQL.

``open_store(database_url)`` is the entry point: it starts embedded PostgreSQL when no URL is
given, applies migrations, and yields a :class:`PostgresStore` that implements
``chatkit.store.Store`` with per-user isolation.

The store is a part any ChatKit server can use, not only this one: ``open_store`` runs on
plain asyncio as well as on trio (robolearn's loop), and chatkit's own store test suite
passes on both::

    async with open_store(os.environ["DATABASE_URL"]) as store:
        server = MyChatKitServer(store, attachment_store)
        ...  # serve; any request context with a ``user_id`` attribute will do

Open and close it in one task (an ASGI lifespan, say): it owns background tasks (the probe
that notices an outage, the embedded server's supervisor). Its methods may be called from
any task of that loop, and from both sides of robolearn's trio-asyncio bridge. Queries run
in worker threads on a synchronous psycopg pool (never psycopg's asyncio API), at most
``robolearn._threads.THREAD_SLOTS`` at a time per loop; a cancelled call returns only once its
query has finished. ``StoreUnavailable`` says the database cannot be reached (a 503; the
store heals by itself), ``InvalidStoreInput`` that the input was refused.

:class:`BlobStore` and :class:`SharedRates` work on either loop too. The thread locks and
stream slots (PostgreSQL sessions of their own, driven from trio) serve robolearn's own
turns and run on trio only.
"""

from ._blobs import Blob, BlobLimits, BlobStore, UploadSlot
from ._embedded import EmbeddedPostgres, open_embedded_postgres
from ._errors import (
    InvalidStoreInput,
    LimitExceeded,
    NotFoundError,
    PayloadTooLarge,
    StoreFailed,
    StoreUnavailable,
    TooLong,
    UploadConflict,
)
from ._health import DatabaseHealth, HealthStatistics
from ._migrations import apply_migrations, load_migrations
from ._open import open_store
from ._postgres import DownVotedAnswer, PostgresStore, StoreContext, StoreLimits, check_id
from ._rates import SharedRates
from ._slots import Slot, SlotStatistics, StreamSlotLocks, open_stream_slot_locks
from ._supervisor import Backoff, PostgresSupervisor, SupervisorStatistics
from ._thread_locks import (
    ThreadLease,
    ThreadLocks,
    ThreadLockStatistics,
    lock_key,
    open_thread_locks,
)

__all__ = [
    "Backoff",
    "Blob",
    "BlobLimits",
    "BlobStore",
    "DatabaseHealth",
    "DownVotedAnswer",
    "EmbeddedPostgres",
    "HealthStatistics",
    "InvalidStoreInput",
    "LimitExceeded",
    "NotFoundError",
    "PayloadTooLarge",
    "PostgresStore",
    "PostgresSupervisor",
    "SharedRates",
    "Slot",
    "SlotStatistics",
    "StoreContext",
    "StoreFailed",
    "StoreLimits",
    "StoreUnavailable",
    "StreamSlotLocks",
    "SupervisorStatistics",
    "ThreadLease",
    "ThreadLockStatistics",
    "ThreadLocks",
    "TooLong",
    "UploadConflict",
    "UploadSlot",
    "apply_migrations",
    "check_id",
    "load_migrations",
    "lock_key",
    "open_embedded_postgres",
    "open_store",
    "open_stream_slot_locks",
    "open_thread_locks",
]

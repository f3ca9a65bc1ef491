"""ChatKit storage on PostgreSQL.

``open_store(database_url)`` is the entry point: it starts embedded PostgreSQL when no URL is
given, applies migrations, and yields a :class:`PostgresStore` that implements
``chatkit.store.Store`` with per-user isolation.
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

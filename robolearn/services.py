"""The long-lived parts of a running server, opened together and closed in reverse order."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import attrs

from robolearn._aio import open_asyncio_loop
from robolearn.config import Settings
from robolearn.store import PostgresStore, open_store

__all__ = ["Services", "open_services"]

_log = logging.getLogger("robolearn")


@attrs.frozen
class Services:
    """What request handlers need; built once per process by :func:`open_services`."""

    settings: Settings
    store: PostgresStore


@asynccontextmanager
async def open_services(settings: Settings) -> AsyncIterator[Services]:
    """Open the asyncio bridge and the store (embedded PostgreSQL when no DATABASE_URL)."""
    async with open_asyncio_loop():
        if settings.database_url is None:
            _log.info("DATABASE_URL not set: using embedded PostgreSQL in %s", settings.data_dir)
        async with open_store(
            settings.database_url,
            data_dir=settings.data_dir,
            pool_min=settings.db_pool_min,
            pool_max=settings.db_pool_max,
            db_timeout=settings.db_timeout,
        ) as store:
            yield Services(settings=settings, store=store)

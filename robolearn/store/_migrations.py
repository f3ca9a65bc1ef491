"""Numbered SQL migrations, applied once each, safe when several processes start together."""

from __future__ import annotations

import logging
import re
from importlib import resources
from typing import Any

import attrs
import psycopg

__all__ = ["Migration", "apply_migrations", "load_migrations"]

_log = logging.getLogger("robolearn.store")

# Any constant works; it only has to be the same in every process that migrates this database.
_ADVISORY_LOCK_KEY = 0x7200_1EA2

_FILE_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@attrs.frozen
class Migration:
    version: int
    name: str
    sql: str


def load_migrations() -> tuple[Migration, ...]:
    """The migrations shipped in ``robolearn/store/migrations``, in version order."""
    found = []
    for entry in resources.files("robolearn.store").joinpath("migrations").iterdir():
        match = _FILE_NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise RuntimeError(f"duplicate migration versions: {versions}")
    return tuple(found)


def apply_migrations(conn: psycopg.Connection[Any]) -> list[Migration]:
    """Bring the schema up to date; returns the migrations this call applied.

    The whole run is one transaction holding an advisory lock, so a second process starting at
    the same moment waits, then finds everything applied and does nothing.
    """
    applied: list[Migration] = []
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_ADVISORY_LOCK_KEY,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY,"
            " name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        for migration in load_migrations():
            if migration.version in done:
                continue
            _log.info("applying migration %04d_%s", migration.version, migration.name)
            conn.execute(migration.sql.encode())
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
            applied.append(migration)
    return applied

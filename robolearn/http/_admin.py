"""A test-only admin hook for fault injection and leak checks (chaos suite, ``robolearn bench``).

Registered only when ``ROBOLEARN_ADMIN_TOKEN`` is set; every call must carry the same token in
the ``X-Admin-Token`` header. Never enable it in production: it can interrupt any user's turn.

- ``POST /admin/actors/cancel`` with ``{"user": "<owner>", "key": "<thread id>"}``: cancel
  that thread's actor (its running turn persists a partial answer; the client gets an
  ``error`` event).
- ``GET /admin/stats``: the actor system's statistics, live asyncio tasks and trio tasks,
  and the thread locks' statistics.
"""

from __future__ import annotations

import hmac
import json

import attrs
import trio
from quart import Response, request
from quart_trio import QuartTrio

from robolearn import _aio

from ._errors import HttpError
from ._services import HttpServices

__all__ = ["register_admin"]

_TOKEN_HEADER = "X-Admin-Token"


def register_admin(app: QuartTrio, services: HttpServices, token: str) -> None:
    """Add the admin routes to ``app``, guarded by ``token``."""

    def authorise() -> None:
        given = request.headers.get(_TOKEN_HEADER, "")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise HttpError(403, "forbidden", f"send the admin token in {_TOKEN_HEADER}")

    @app.post("/admin/actors/cancel")
    async def admin_cancel_actor() -> Response:
        authorise()
        body = await request.get_data(cache=False, as_text=False, parse_form_data=False)
        try:
            fields = json.loads(body)
            key, user = fields.get("key"), fields.get("user")
        except (ValueError, AttributeError):
            key = user = None
        if not isinstance(key, str) or not isinstance(user, str):
            raise HttpError(
                400, "invalid_request", 'send {"user": "<owner>", "key": "<thread id>"}'
            )
        return _json({"cancelled": services.actors.cancel((user, key))})

    @app.get("/admin/stats")
    async def admin_stats() -> Response:
        authorise()
        return _json(
            {
                "actors": attrs.asdict(services.actors.statistics()),
                "asyncio_tasks": _aio.pending_asyncio_tasks(),
                "trio_tasks": _count_trio_tasks(),
                "thread_locks": (
                    None if services.locks is None else attrs.asdict(services.locks.statistics())
                ),
            }
        )


def _count_trio_tasks() -> int:
    """Every live trio task of this run (this request's handler included)."""
    count = 0
    pending = [trio.lowlevel.current_root_task()]
    while pending:
        task = pending.pop()
        if task is None:
            continue
        count += 1
        for nursery in task.child_nurseries:
            pending.extend(nursery.child_tasks)
    return count


def _json(body: object) -> Response:
    return Response(json.dumps(body), content_type="application/json")

"""Chaos fixtures: a REAL ``python -m robolearn serve`` process per test, killed and cleaned up.

Each server gets its own data dir (embedded PostgreSQL) unless a test passes DATABASE_URL,
the scripted model with a slow deterministic stream, and the test-only admin hook. Teardown
stops the server (SIGTERM, then SIGKILL) and any PostgreSQL left running in its data dir, so
no process outlives the test.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio

from robolearn.bench import ServerProcess, free_port, robolearn_server, stop_embedded_postgres

ADMIN_TOKEN = "chaos-admin-token"
ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts"

ServerFactory = Callable[..., ServerProcess]


@pytest.fixture
def start_server(tmp_path: Path) -> Iterator[ServerFactory]:
    """``start_server(tokens=, delay_ms=, workers=, **env)`` starts a server and waits for
    /readyz (from each worker, with ``workers``)."""
    started: list[ServerProcess] = []

    def start(
        *,
        tokens: int = 20,
        delay_ms: float = 10.0,
        name: str = "robolearn",
        workers: int = 1,
        **env: str,
    ) -> ServerProcess:
        process = robolearn_server(
            free_port(),
            tmp_path / name,
            {
                "ROBOLEARN_SCRIPTED_TOKENS": str(tokens),
                "ROBOLEARN_SCRIPTED_DELAY_MS": str(delay_ms),
                "ROBOLEARN_ADMIN_TOKEN": ADMIN_TOKEN,
                "ROBOLEARN_SHUTDOWN_GRACE": "2",
                **env,
            },
            name=name,
            workers=workers,
        )
        started.append(process)
        process.start()
        return process

    yield start
    for process in started:
        process.stop()
        stop_embedded_postgres(tmp_path / process.name)


async def start_side_by_side(
    start_server: ServerFactory, *kwargs: dict[str, Any]
) -> list[ServerProcess]:
    """A server per ``kwargs`` entry (``start_server``'s arguments), started at the same time
    in worker threads (each waits for /readyz): most of a start is the child's imports."""
    servers: dict[int, ServerProcess] = {}

    async def start(n: int) -> None:
        servers[n] = await trio.to_thread.run_sync(lambda: start_server(**kwargs[n]))

    async with trio.open_nursery() as nursery:
        for n in range(len(kwargs)):
            nursery.start_soon(start, n)
    return [servers[n] for n in range(len(kwargs))]


def full_answer(text: str, tokens: int) -> str:
    return f"answer to: {text}" + "".join(f" t{n}" for n in range(1, tokens))


async def admin_stats(base_url: str) -> dict[str, Any]:
    # A fresh connection each time, so the client's own keep-alive connections do not count.
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.get("/admin/stats", headers={"X-Admin-Token": ADMIN_TOKEN})
        response.raise_for_status()
        stats: dict[str, Any] = response.json()
        return stats


async def admin_cancel(client: httpx.AsyncClient, user: str, thread_id: str) -> bool:
    """Cancel the actor of ``user``'s thread ``thread_id``."""
    response = await client.post(
        "/admin/actors/cancel",
        json={"user": user, "key": thread_id},
        headers={"X-Admin-Token": ADMIN_TOKEN},
    )
    response.raise_for_status()
    return bool(response.json()["cancelled"])


async def wait_for(
    check: Callable[[], Any],
    seconds: float,
    interval: float = 0.1,
    what: str | Callable[[], str] = "condition",
) -> None:
    """Poll an async ``check()`` (state seen only from outside, over HTTP) until it is truthy."""
    with trio.move_on_after(seconds):
        while True:
            if await check():
                return
            await trio.sleep(interval)
    raise AssertionError(
        f"timed out after {seconds}s waiting for {what if isinstance(what, str) else what()}"
    )


async def quiescent(base_url: str) -> bool:
    stats = await admin_stats(base_url)
    return not stats["actors"]["busy_actors"] and not stats["asyncio_tasks"]


def report(name: str, counts: dict[str, Any]) -> None:
    """Print the counts and keep them in artifacts/chaos-NAME.json (visible without -s)."""
    ARTIFACTS.mkdir(exist_ok=True)
    (ARTIFACTS / f"chaos-{name}.json").write_text(json.dumps(counts, indent=2) + "\n")
    print(f"\nchaos {name}: {json.dumps(counts)}")

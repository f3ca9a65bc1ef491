"""A real server process whose external database (DATABASE_URL) is stopped, then started:
once the outage is known, requests get their 503 at once instead of after the pool's
timeout (3 s, the default, here), and service returns by itself soon after the database."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest
import trio

from robolearn.bench import chatkit_body, pg_ctl, user_input
from robolearn.store import EmbeddedPostgres

from .conftest import ServerFactory, report, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

HEADERS = {"X-User-ID": "outage", "Content-Type": "application/json"}


async def test_known_outage_is_answered_at_once_and_heals(
    start_server: ServerFactory, tmp_path: Path
) -> None:
    pg_dir = tmp_path / "pg"
    postgres = await trio.to_thread.run_sync(EmbeddedPostgres.start, pg_dir)
    try:
        server = start_server(DATABASE_URL=postgres.uri)
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            listing = chatkit_body("threads.list", limit=5)
            create = chatkit_body("threads.create", input=user_input("during the outage"))
            assert (await client.post("/chatkit", content=listing, headers=HEADERS)).is_success

            await trio.to_thread.run_sync(lambda: pg_ctl(postgres, "-w", "-m", "fast", "stop"))
            stopped = trio.current_time()
            # The first request to meet the outage makes it known.
            first = await client.post("/chatkit", content=listing, headers=HEADERS)
            first_seconds = trio.current_time() - stopped
            assert first.status_code == 503

            latencies = []
            for n in range(20):
                started = trio.current_time()
                with trio.fail_after(1):  # the pool would take 3 s
                    response = await client.post(
                        "/chatkit", content=create if n % 2 else listing, headers=HEADERS
                    )
                latencies.append(trio.current_time() - started)
                assert response.status_code == 503, response.text
                assert response.json()["error"]["code"] == "database_unavailable"
                assert "Retry-After" in response.headers
            ready = await client.get("/readyz")
            assert ready.status_code == 503
            assert ready.json()["checks"]["database"] == "unavailable"

            await trio.to_thread.run_sync(EmbeddedPostgres.start, pg_dir)
            restarted = trio.current_time()

            async def served() -> bool:
                response = await client.post("/chatkit", content=listing, headers=HEADERS)
                return response.status_code == 200

            await wait_for(served, 5, interval=0.02, what="service after the database returned")
            healed = trio.current_time() - restarted
            streamed = await client.post("/chatkit", content=create, headers=HEADERS)
            assert streamed.status_code == 200 and b"thread.item.done" in streamed.content
    finally:
        await trio.to_thread.run_sync(postgres.stop)
    report(
        "database-outage",
        {
            "first_request_after_stop_s": round(first_seconds, 3),
            "known_outage_503_max_ms": round(max(latencies) * 1000, 1),
            "known_outage_503_mean_ms": round(sum(latencies) / len(latencies) * 1000, 1),
            "served_after_database_back_s": round(healed, 3),
        },
    )

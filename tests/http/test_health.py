from __future__ import annotations

from functools import partial
from pathlib import Path

import httpx
import trio

from robolearn.config import Settings
from robolearn.http import create_app, serve_app
from robolearn.serve import hypercorn_config
from robolearn.services import open_services


async def test_healthz(http: httpx.AsyncClient) -> None:
    response = await http.get("/healthz")
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}
    assert response.headers["X-Robolearn-Process"] == "main"  # the single server


async def test_readyz_with_database(http: httpx.AsyncClient) -> None:
    response = await http.get("/readyz")
    assert response.status_code == 200
    assert response.json()["checks"]["database"] == "ok"
    assert response.headers["X-Robolearn-Process"] == "main"


async def test_starts_without_database_and_reports_not_ready(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://nobody@/none?host=/nonexistent",
        data_dir=tmp_path,
        db_timeout=0.3,
        auth="dev",
    )
    async with open_services(settings) as services:
        config = hypercorn_config("127.0.0.1:0")
        config.accesslog = None
        async with trio.open_nursery() as nursery:
            urls = await nursery.start(
                partial(
                    serve_app, create_app(services), config, shutdown_trigger=trio.sleep_forever
                )
            )
            async with httpx.AsyncClient(base_url=urls[0]) as client:
                assert (await client.get("/healthz")).status_code == 200
                response = await client.get("/readyz")
                assert response.status_code == 503
                body = response.json()
                assert body["status"] == "not ready"
                assert body["checks"]["database"].startswith("unavailable")
                chat = await client.post(
                    "/chatkit",
                    json={"type": "threads.list", "params": {}},
                    headers={"X-User-ID": "alice"},
                )
                assert chat.status_code == 503
                assert chat.json()["error"]["code"] == "database_unavailable"
            nursery.cancel_scope.cancel()

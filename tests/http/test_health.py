from __future__ import annotations

from pathlib import Path

from quart.typing import TestClientProtocol as Client

from robolearn.config import Settings
from robolearn.http import create_app
from robolearn.services import open_services


async def test_healthz(client: Client) -> None:
    response = await client.get("/healthz")
    assert response.status_code == 200
    assert await response.get_json() == {"status": "ok"}


async def test_readyz_with_database(client: Client) -> None:
    response = await client.get("/readyz")
    assert response.status_code == 200
    body = await response.get_json()
    assert body["checks"]["database"] == "ok"


async def test_starts_without_database_and_reports_not_ready(tmp_path: Path) -> None:
    settings = Settings(
        database_url="postgresql://nobody@/none?host=/nonexistent",
        data_dir=tmp_path,
        db_timeout=0.3,
    )
    async with open_services(settings) as services:
        app = create_app(services)
        async with app.test_app() as test_app:
            client = test_app.test_client()
            assert (await client.get("/healthz")).status_code == 200
            response = await client.get("/readyz")
            assert response.status_code == 503
            body = await response.get_json()
            assert body["status"] == "not ready"
            assert body["checks"]["database"].startswith("unavailable")

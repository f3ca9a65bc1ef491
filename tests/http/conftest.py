from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from quart.typing import TestClientProtocol as Client

from robolearn.config import Settings
from robolearn.http import create_app
from robolearn.services import Services, open_services


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    settings = Settings(database_url=database_url, data_dir=tmp_path, auth="dev")
    async with open_services(settings) as opened:
        yield opened


@pytest.fixture
async def client(services: Services) -> AsyncIterator[Client]:
    app = create_app(services)
    async with app.test_app() as test_app:
        yield test_app.test_client()

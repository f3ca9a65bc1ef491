"""The real client path: robolearn on real Hypercorn, its model a provider over HTTP.

The provider is the stand-in (``robolearn.standin``), a separate process on loopback that
speaks OpenAI's Chat Completions and Responses APIs; robolearn reaches it through the openai
SDK exactly as it would reach OpenAI, vLLM or Ollama.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from robolearn.config import OpenAIApi, Settings
from robolearn.services import Services, open_services
from robolearn.standin import StandIn
from tests.http.conftest import alice, bob, http

__all__ = ["alice", "bob", "http"]  # fixtures reused from tests/http


@pytest.fixture(params=["chat_completions", "responses"])
def api(request: pytest.FixtureRequest) -> OpenAIApi:
    """Every test here runs on both provider APIs."""
    choice: OpenAIApi = request.param
    return choice


@pytest.fixture
async def standin(standin: StandIn) -> StandIn:
    """The session's stand-in (``tests/conftest.py``), answering in 6 quick deltas."""
    await standin.configure(tokens=6, delay_ms=2)
    return standin


@pytest.fixture
def settings(database_url: str, tmp_path: Path, standin: StandIn, api: OpenAIApi) -> Settings:
    # No key: a local OpenAI-compatible server, as most are run.
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth="dev",
        openai_base_url=standin.base_url,
        openai_model="standin",
        openai_api=api,
        model_timeout=1.0,
        model_retries=1,
        transcription_model="standin-transcribe",
    )


@pytest.fixture
async def services(settings: Settings) -> AsyncIterator[Services]:
    async with open_services(settings) as opened:
        yield opened

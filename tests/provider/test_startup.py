"""Startup with a provider: the model in use is logged, an unreachable one is warned about."""

from __future__ import annotations

import logging
import socket

import pytest

from robolearn.chat._models import PLACEHOLDER_API_KEY, probe_provider, provider_client
from robolearn.config import Settings
from robolearn.standin import StandIn


def closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
    return port  # closed again: nothing listens there


async def test_a_provider_that_does_not_answer_is_warned_about(
    caplog: pytest.LogCaptureFixture,
) -> None:
    settings = Settings(openai_base_url=f"http://127.0.0.1:{closed_port()}/v1")
    client = provider_client(settings)
    assert client is not None
    assert client.api_key == PLACEHOLDER_API_KEY
    with caplog.at_level(logging.WARNING, logger="robolearn.chat"):
        assert not await probe_provider(client, wait=2.0)
    assert "does not answer" in caplog.text


async def test_a_provider_that_answers_is_logged(
    standin: StandIn, caplog: pytest.LogCaptureFixture
) -> None:
    client = provider_client(Settings(openai_base_url=standin.base_url))
    assert client is not None
    with caplog.at_level(logging.INFO, logger="robolearn.chat"):
        assert await probe_provider(client)
    assert "answers" in caplog.text


def test_no_provider_means_the_offline_tutor() -> None:
    assert provider_client(Settings()) is None
    assert provider_client(Settings(model="scripted", openai_api_key="k")) is None

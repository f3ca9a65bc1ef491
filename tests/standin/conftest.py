"""The stand-in's own tests: the session's stand-in (``tests/conftest.py``) and the sync SDK."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import openai
import pytest

from robolearn.standin import StandIn


@pytest.fixture
def sdk(standin: StandIn) -> Iterator[openai.OpenAI]:
    """The sync OpenAI client (call it in ``trio.to_thread.run_sync``): no retries, no proxies."""
    with httpx.Client(trust_env=False) as http:
        yield openai.OpenAI(
            base_url=standin.base_url, api_key="sk-standin-test", max_retries=0, http_client=http
        )

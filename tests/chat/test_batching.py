"""ROBOLEARN_STREAM_FLUSH_MS reaches the one batching point: an answer's text deltas merged
before chatkit, the same text either way."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from robolearn.chat import ScriptedTokensModel
from robolearn.config import Settings
from tests.http.conftest import ChatKit, user_input

TOKENS = 12


@pytest.fixture(params=[0.0, 20.0], ids=["unmerged", "merged"])
def settings(database_url: str, tmp_path: Path, request: pytest.FixtureRequest) -> Settings:
    return Settings(
        database_url=database_url, data_dir=tmp_path, auth="dev", stream_flush_ms=request.param
    )


@pytest.fixture
def model() -> ScriptedTokensModel:
    # Every token ready at once: as fast as a model can stream.
    return ScriptedTokensModel(tokens=TOKENS, delay=0)


def _deltas(events: list[dict[str, Any]]) -> list[str]:
    return [
        event["update"]["delta"]
        for event in events
        if event["type"] == "thread.item.updated"
        and event["update"]["type"] == "assistant_message.content_part.text_delta"
    ]


async def test_fast_deltas_are_merged_only_when_the_setting_says_so(
    alice: ChatKit, settings: Settings
) -> None:
    events = await alice.stream("threads.create", input=user_input("hello"))
    deltas = _deltas(events)
    done = [e["item"] for e in events if e["type"] == "thread.item.done"]
    assert "".join(deltas) == done[-1]["content"][0]["text"]
    assert "".join(deltas).startswith("answer to: hello")
    if settings.stream_flush_ms:
        assert len(deltas) < TOKENS // 2  # all ready at once: merged while the pump holds
    else:
        assert len(deltas) == TOKENS

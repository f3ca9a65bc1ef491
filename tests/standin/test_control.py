"""The control API: recorded requests, stream records, config, reset, long-polls."""

from __future__ import annotations

import time
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from robolearn.standin import StandIn, StandInConfig, StandInError


def chat(text: str, **extra: Any) -> dict[str, Any]:
    return {"model": "standin", "messages": [{"role": "user", "content": text}], **extra}


async def test_requests_are_recorded_in_order(standin: StandIn) -> None:
    async with httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http:
        await http.post(
            "/chat/completions", json=chat("one"), headers={"authorization": "Bearer a"}
        )
        await http.post("/responses", json={"model": "m", "input": "two", "stream": True})
        await http.get("/models")
    requests = await standin.requests()
    assert [(r.n, r.path, r.authorization) for r in requests] == [
        (0, "/v1/chat/completions", "Bearer a"),
        (1, "/v1/responses", None),
    ]
    assert requests[0].body == chat("one")
    streams = [await standin.wait_stream(n) for n in (0, 1)]
    assert [(s.n, s.path, s.stream, s.outcome) for s in streams] == [
        (0, "/v1/chat/completions", False, "completed"),
        (1, "/v1/responses", True, "completed"),
    ]
    assert all(s.ended is not None and s.started <= s.ended for s in streams)


async def test_reset_forgets_everything_and_restores_config(standin: StandIn) -> None:
    assert await standin.configure(tokens=2, tool_calls="never") == StandInConfig(
        tokens=2, tool_calls="never"
    )
    await standin.inject({"status": 500})
    async with httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http:
        first = await http.post("/chat/completions", json=chat("x"))
        assert first.status_code == 500
        await standin.inject({"status": 500})
        await standin.reset()
        second = await http.post("/chat/completions", json=chat("x"))
    assert second.status_code == 200  # the queued fault is gone
    assert second.json()["usage"]["completion_tokens"] == 20  # default tokens again
    assert [r.n for r in await standin.requests()] == [0]


async def test_config_is_validated(standin: StandIn) -> None:
    with pytest.raises(StandInError, match="tokens must be an int >= 1"):
        await standin.configure(tokens=0)
    with pytest.raises(StandInError, match="tool_calls must be one of"):
        await standin.configure(tool_calls="sometimes")  # type: ignore[arg-type]
    async with httpx.AsyncClient(base_url=standin.root_url, trust_env=False) as http:
        response = await http.post("/_standin/config", json={"token": 3})
        assert response.status_code == 400
        assert "unknown settings ['token']" in response.json()["error"]["message"]
        current = await http.get("/_standin/config")
    assert current.json() == {"config": StandInConfig().to_json()}


async def test_faults_are_validated(standin: StandIn) -> None:
    with pytest.raises(StandInError, match="unknown fault"):
        await standin.inject({"explode": True})
    with pytest.raises(StandInError, match="400-599"):
        await standin.inject({"status": 200})
    with pytest.raises(StandInError, match="cut_after must be an int"):
        await standin.inject({"cut_after": -1})


async def test_wait_requests_returns_when_they_arrive(standin: StandIn) -> None:
    async with trio.open_nursery() as nursery:

        async def send_two() -> None:
            async with httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http:
                for text in ["a", "b"]:
                    await http.post("/chat/completions", json=chat(text))

        nursery.start_soon(send_two)  # the wait returns once both are recorded, not before
        requests = await standin.wait_requests(2, timeout=10)
    assert [r.body["messages"][0]["content"] for r in requests] == ["a", "b"]


async def test_wait_stream_returns_once_it_ended(standin: StandIn) -> None:
    await standin.configure(tokens=5, delay_ms=20)
    async with (
        httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http,
        trio.open_nursery() as nursery,
    ):
        nursery.start_soon(partial(http.post, "/chat/completions", json=chat("x", stream=True)))
        record = await standin.wait_stream(0, timeout=10)
    assert record.outcome == "completed"
    assert record.deltas == 5
    assert record.ended is not None
    # Deltas are due 20, 40, ..., 100 ms after the headers.
    assert record.ended - record.started >= 0.1


async def test_waits_time_out_with_408(standin: StandIn) -> None:
    before = time.monotonic()
    with pytest.raises(TimeoutError, match="did not end in time"):
        await standin.wait_stream(5, timeout=0.2)
    with pytest.raises(TimeoutError, match="fewer than 1 requests"):
        await standin.wait_requests(1, timeout=0.2)
    assert time.monotonic() - before < 5

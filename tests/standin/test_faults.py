"""Injected faults, as a client sees them and as the stand-in records them."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import openai
import pytest
import trio

from robolearn.standin import CutAfter, HangAfter, Stall, StandIn, Status

from ._sse import hang_up_after, parse_sse


def chat(text: str = "hi", **extra: Any) -> dict[str, Any]:
    return {"model": "standin", "messages": [{"role": "user", "content": text}], **extra}


@asynccontextmanager
async def raw(standin: StandIn) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=standin.base_url, trust_env=False) as http:
        yield http


async def test_429_with_retry_after_is_a_rate_limit_error(
    standin: StandIn, sdk: openai.OpenAI
) -> None:
    await standin.inject(Status(429, retry_after=1.5))
    with pytest.raises(openai.RateLimitError) as caught:
        await trio.to_thread.run_sync(
            lambda: sdk.chat.completions.create(model="standin", messages=chat()["messages"])
        )
    headers = caught.value.response.headers
    assert (headers["retry-after"], headers["retry-after-ms"]) == ("2", "1500")
    assert caught.value.type == "rate_limit_error"
    assert caught.value.code == "rate_limit_exceeded"
    # Recorded once the answer is out, which may be just after the client has it.
    record = await standin.wait_stream(0)
    assert (record.outcome, record.deltas) == ("error", 0)


async def test_status_faults_are_taken_in_order(standin: StandIn, sdk: openai.OpenAI) -> None:
    await standin.inject(Status(503), {"status": 500})

    def call() -> Any:
        return sdk.responses.create(model="standin", input="hi")

    with pytest.raises(openai.APIStatusError) as first:
        await trio.to_thread.run_sync(call)
    with pytest.raises(openai.InternalServerError) as second:
        await trio.to_thread.run_sync(call)
    assert (first.value.status_code, second.value.status_code) == (503, 500)
    assert "retry-after" not in first.value.response.headers
    response = await trio.to_thread.run_sync(call)  # the queue is empty again
    assert response.status == "completed"


async def test_stall_delays_the_headers(standin: StandIn) -> None:
    await standin.configure(tokens=2, delay_ms=0)
    await standin.inject(Stall(0.3))
    async with raw(standin) as http:
        before = time.monotonic()
        async with http.stream("POST", "/chat/completions", json=chat(stream=True)) as response:
            headers_after = time.monotonic() - before
            body = await response.aread()
    assert headers_after >= 0.3
    assert parse_sse([body])[-1].data == "[DONE]"
    record = await standin.wait_stream(0)
    assert (record.outcome, record.deltas) == ("completed", 2)


@pytest.mark.parametrize("api", ["chat", "responses"])
async def test_cut_after_gives_an_incomplete_body(
    standin: StandIn, sdk: openai.OpenAI, api: str
) -> None:
    await standin.configure(tokens=10, delay_ms=0)
    await standin.inject(CutAfter(3))

    def run() -> tuple[list[Any], BaseException]:
        seen: list[Any] = []
        if api == "chat":
            stream: Any = sdk.chat.completions.create(
                model="standin", messages=chat()["messages"], stream=True
            )
        else:
            stream = sdk.responses.create(model="standin", input="hi", stream=True)
        # openai 3.x wraps the transport error of a broken stream in APIConnectionError.
        with pytest.raises(openai.APIConnectionError) as caught, stream:
            seen.extend(stream)
        return seen, caught.value

    seen, error = await trio.to_thread.run_sync(run)
    assert isinstance(error.__cause__, httpx.RemoteProtocolError)
    assert "incomplete chunked read" in str(error.__cause__)
    record = await standin.wait_stream(0)
    assert record.outcome == "cut"
    if api == "chat":
        # The role chunk, then 3 deltas; no finish chunk, no [DONE].
        assert [c.choices[0].delta.content for c in seen] == ["", "answer to: hi", " t1", " t2"]
        assert record.deltas == 3
    else:
        # 3 events: created, in_progress, output_item.added; never response.completed.
        assert [e.sequence_number for e in seen] == [0, 1, 2]
        assert record.deltas == 0


async def test_cut_of_a_body_that_is_not_streamed(standin: StandIn, sdk: openai.OpenAI) -> None:
    await standin.inject(CutAfter(1))
    async with raw(standin) as http:
        with pytest.raises(
            httpx.RemoteProtocolError, match="without sending complete message body"
        ):
            await http.post("/chat/completions", json=chat())
    await standin.inject(CutAfter(0))
    with pytest.raises(openai.APIConnectionError):
        await trio.to_thread.run_sync(
            lambda: sdk.chat.completions.create(model="standin", messages=chat()["messages"])
        )
    assert [(await standin.wait_stream(n)).outcome for n in (0, 1)] == ["cut", "cut"]


@pytest.mark.parametrize("path", ["/chat/completions", "/responses"])
async def test_hang_then_client_close_is_seen_within_a_second(standin: StandIn, path: str) -> None:
    await standin.configure(tokens=10, delay_ms=0)
    await standin.inject(HangAfter(2))
    body = chat(stream=True) if path == "/chat/completions" else {"input": "hi", "stream": True}
    # Chat: the role chunk and 2 deltas. Responses: 4 opening events and 2 deltas.
    expected = 3 if path == "/chat/completions" else 6
    closed_at = await hang_up_after(standin.base_url + path, body, expected)
    record = await standin.wait_stream(0, timeout=5)
    assert record.outcome == "client_closed"
    assert record.deltas == 2
    assert record.ended is not None
    assert 0 <= record.ended - closed_at < 1.0


async def test_client_leaving_mid_stream_or_during_a_stall_is_recorded(
    standin: StandIn,
) -> None:
    await standin.configure(tokens=10_000, delay_ms=5)
    url = f"{standin.base_url}/chat/completions"
    closed_at = await hang_up_after(url, chat(stream=True), 3)
    async with raw(standin) as http:
        await standin.inject(Stall(30))
        before = time.monotonic()
        with trio.move_on_after(0.2):  # the client gives up on the stalled answer
            await http.post("/responses", json={"input": "hi"})
    paced, stalled = await standin.wait_stream(0), await standin.wait_stream(1)
    assert paced.outcome == stalled.outcome == "client_closed"
    assert paced.ended is not None and 0 <= paced.ended - closed_at < 1.0
    assert stalled.ended is not None and 0.2 <= stalled.ended - before < 1.2
    assert stalled.deltas == 0

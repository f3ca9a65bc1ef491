"""The embedded PostgreSQL's postmaster is killed (``kill -9``) under a real server process.

The server started it (no DATABASE_URL), so it restarts it by itself: ready again and
answering within 5 s, nobody's help needed; meanwhile ``/readyz`` says it is restarting.
"""

from __future__ import annotations

import os
import re
import signal
from pathlib import Path

import httpx
import psutil
import pytest
import trio

from robolearn.bench import MessageResult, ServerProcess, chatkit_body, stream_message, user_input
from robolearn.store._embedded import PostmasterRecord

from .conftest import ServerFactory, full_answer, report, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

TOKENS = 5
RECOVERY_SECONDS = 5.0


def _pgdata(server: ServerProcess) -> Path:
    return server.log_path.parent / "pgdata"


def _postmaster(server: ServerProcess) -> PostmasterRecord:
    record = PostmasterRecord.read(_pgdata(server))
    assert record is not None and record.running(), "no embedded PostgreSQL running"
    return record


async def _converse(client: httpx.AsyncClient, text: str) -> MessageResult:
    result = MessageResult(thread=0, index=0, text=text)
    body = chatkit_body("threads.create", input=user_input(text))
    await stream_message(client, "pg-supervision", body, result)
    return result


async def _ready(client: httpx.AsyncClient) -> bool:
    try:
        return (await client.get("/readyz")).status_code == 200
    except httpx.TransportError:
        return False


async def _restarts(client: httpx.AsyncClient) -> float:
    text = (await client.get("/metrics")).text
    match = re.search(
        r'^robolearn_embedded_postgres_restarts_total\{process="main"\} (\S+)$', text, re.M
    )
    assert match is not None, "no restart counter in /metrics"
    return float(match.group(1))


async def test_a_killed_postgres_is_restarted_within_seconds(start_server: ServerFactory) -> None:
    server = start_server(tokens=TOKENS, delay_ms=1, ROBOLEARN_DB_TIMEOUT="1")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        before = await _converse(client, "before the kill")
        assert before.ok, before.error
        assert await _restarts(client) == 0
        dead = _postmaster(server).pid

        os.kill(dead, signal.SIGKILL)
        killed = trio.current_time()

        async def back() -> bool:
            record = PostmasterRecord.read(_pgdata(server))
            return record is not None and record.pid != dead and await _ready(client)

        await wait_for(back, RECOVERY_SECONDS, interval=0.02, what="/readyz 200 after the kill")
        ready_after = trio.current_time() - killed
        after = await _converse(client, "after the kill")
        answered_after = trio.current_time() - killed
        restarts = await _restarts(client)

    report(
        "postgres-supervision",
        {"ready_after_s": round(ready_after, 2), "answered_after_s": round(answered_after, 2)},
    )
    assert after.ok, after.error
    assert after.answer == full_answer("after the kill", TOKENS)
    assert answered_after < RECOVERY_SECONDS
    assert restarts == 1
    log = server.log_path.read_text()
    assert f"embedded PostgreSQL (pid {dead}) died; restarting it" in log
    assert "embedded PostgreSQL restarted (pid" in log


async def test_readyz_says_restarting_until_the_old_server_is_gone(
    start_server: ServerFactory,
) -> None:
    server = start_server(tokens=TOKENS, delay_ms=1, ROBOLEARN_DB_TIMEOUT="1")
    postmaster = psutil.Process(_postmaster(server).pid)
    # A stopped child cannot notice its parent's death and keeps the shared memory attached:
    # the old server is not gone, so no new one may start.
    child = next(c for c in postmaster.children() if "checkpointer" in " ".join(c.cmdline()))
    child.suspend()
    try:
        postmaster.kill()
        async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:

            async def restarting() -> bool:
                response = await client.get("/readyz")
                return (
                    response.status_code == 503
                    and response.json()["checks"]["database"] == "restarting"
                )

            await wait_for(restarting, 10, interval=0.02, what="/readyz to say restarting")
            # Attempts keep coming (0.1 s, 0.3 s, 0.7 s, 1.5 s after the death)...
            await wait_for(
                lambda: _log_has(server, "restart 3 of embedded PostgreSQL failed"),
                10,
                what="three failed attempts",
            )
            # ...and none started a server beside the remains of the old one.
            assert PostmasterRecord.read(_pgdata(server)).pid == postmaster.pid  # type: ignore[union-attr]
            assert await restarting()
    finally:
        child.resume()
    async with httpx.AsyncClient(base_url=server.base_url, timeout=10) as client:
        await wait_for(lambda: _ready(client), 15, interval=0.05, what="recovery")
        after = await _converse(client, "after the outage")
        assert after.ok, after.error
        assert await _restarts(client) == 1
    assert (
        "is not gone yet: processes attached to its shared memory: 1" in server.log_path.read_text()
    )


async def _log_has(server: ServerProcess, text: str) -> bool:
    return text in server.log_path.read_text()

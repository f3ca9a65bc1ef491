"""SIGTERM on a real server process: in-flight answers finish or are checkpointed; exit 0."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Iterator
from functools import partial
from pathlib import Path

import httpx
import pytest
import trio

from tests.http.conftest import wait_until

pytestmark = pytest.mark.slow

RESTARTING = {
    "type": "error",
    "code": "custom",
    "message": "The server is restarting; please try again in a moment.",
    "allow_retry": True,
}


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def server_env(database_url: str, tmp_path: Path) -> dict[str, str]:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "ROBOLEARN_DATA_DIR": str(tmp_path),
        "ROBOLEARN_AUTH": "dev",
        "ROBOLEARN_MODEL": "scripted",
        "ROBOLEARN_SCRIPTED_TOKENS": "100",
        "ROBOLEARN_SCRIPTED_DELAY_MS": "20",  # a 2 s answer
        "ROBOLEARN_LOG_LEVEL": "WARNING",
    }


class Server:
    def __init__(self, env: dict[str, str]) -> None:
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [sys.executable, "-m", "robolearn", "serve", "--bind", f"127.0.0.1:{self.port}"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )

    async def wait_ready(self) -> None:
        async with httpx.AsyncClient() as client:
            with trio.fail_after(30):
                while True:
                    try:
                        if (await client.get(f"{self.url}/readyz")).status_code == 200:
                            return
                    except httpx.TransportError:
                        pass
                    await trio.sleep(0.1)


@pytest.fixture
def start_server(server_env: dict[str, str]) -> Iterator[type[Server]]:
    started: list[Server] = []

    class Tracked(Server):
        def __init__(self, env: dict[str, str] = server_env) -> None:
            super().__init__(env)
            started.append(self)

    yield Tracked
    for server in started:
        if server.process.poll() is None:
            server.process.kill()
        server.process.wait(10)
        if server.process.stderr is not None:
            server.process.stderr.close()


async def _stream_until_term(server: Server, body: dict[str, object]) -> list[dict[str, object]]:
    """Start a streamed answer, SIGTERM the server at its first delta, read to the end.

    The stream must end as a response does (not cut): an answer still running when the
    grace period ends gets an ``error`` event saying so before the connection closes."""
    events: list[dict[str, object]] = []
    buffer = b""
    async with (
        httpx.AsyncClient(timeout=60) as client,
        client.stream(
            "POST", f"{server.url}/chatkit", json=body, headers={"X-User-ID": "alice"}
        ) as response,
    ):
        assert response.status_code == 200
        signalled = False
        async for chunk in response.aiter_bytes():
            buffer += chunk
            *blocks, buffer = buffer.split(b"\n\n")
            events += [json.loads(b[6:]) for b in blocks if b.startswith(b"data: ")]
            if not signalled and any(e["type"] == "thread.item.updated" for e in events):
                server.process.send_signal(signal.SIGTERM)
                signalled = True
    assert buffer == b""
    return events


def _items(server_env: dict[str, str], thread_id: str) -> list[dict[str, object]]:
    import psycopg

    with psycopg.connect(server_env["DATABASE_URL"]) as conn:
        rows = conn.execute(
            "SELECT data FROM items WHERE thread_id = %s ORDER BY seq", (thread_id,)
        ).fetchall()
    return [row[0] for row in rows]


async def test_sigterm_lets_the_answer_finish(
    start_server: type[Server], server_env: dict[str, str]
) -> None:
    server = start_server()
    await server.wait_ready()
    body = {"type": "threads.create", "params": {"input": _input("finish me")}}
    events = await _stream_until_term(server, body)
    assert events[-1]["type"] == "thread.item.done"
    assert await trio.to_thread.run_sync(server.process.wait, 30) == 0

    thread_id = events[0]["thread"]["id"]  # type: ignore[index]
    items = _items(server_env, thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]
    text = items[1]["content"][0]["text"]  # type: ignore[index]
    assert text.endswith(" t99")


async def test_sigterm_past_the_grace_checkpoints_the_answer(
    start_server: type[Server], server_env: dict[str, str]
) -> None:
    env = {**server_env, "ROBOLEARN_SHUTDOWN_GRACE": "0.5", "ROBOLEARN_SCRIPTED_DELAY_MS": "100"}
    server = start_server(env)
    await server.wait_ready()
    body = {"type": "threads.create", "params": {"input": _input("cut me short")}}
    events = await _stream_until_term(server, body)
    # The answer was cut short, and the client is told so (and that it may retry).
    assert events[-1] == RESTARTING
    assert not any(
        e["type"] == "thread.item.done" and e["item"]["type"] == "assistant_message"  # type: ignore[index]
        for e in events
    )
    assert await trio.to_thread.run_sync(server.process.wait, 30) == 0

    thread_id = events[0]["thread"]["id"]  # type: ignore[index]
    items = _items(server_env, thread_id)
    assert [i["type"] for i in items][:2] == ["user_message", "assistant_message"]
    partial = items[1]["content"][0]["text"]  # type: ignore[index]
    assert partial.startswith("answer to: cut me short")
    assert not partial.endswith(" t99")

    # Restarted, the thread goes on where it stopped (a short answer: only its start is read).
    again = start_server({**server_env, "ROBOLEARN_SCRIPTED_TOKENS": "5"})
    await again.wait_ready()
    async with httpx.AsyncClient(timeout=60) as client:
        response = await client.post(
            f"{again.url}/chatkit",
            json={
                "type": "threads.add_user_message",
                "params": {"thread_id": thread_id, "input": _input("and now?")},
            },
            headers={"X-User-ID": "alice"},
        )
    assert response.status_code == 200
    assert b"answer to: and now?" in response.content


async def test_sigterm_tells_queued_messages_at_once_and_finishes_the_running_one(
    start_server: type[Server], server_env: dict[str, str]
) -> None:
    server = start_server()
    await server.wait_ready()
    order: list[str] = []
    queued: list[httpx.Response] = []
    alice = {"X-User-ID": "alice"}

    async def streams_at_least(client: httpx.AsyncClient, count: int) -> bool:
        metrics = (await client.get(f"{server.url}/metrics")).text
        line = next(x for x in metrics.splitlines() if x.startswith("robolearn_active_streams{"))
        return float(line.rsplit(" ", 1)[1]) >= count

    async def send_queued(client: httpx.AsyncClient, thread_id: str) -> None:
        body = {
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": _input("queued")},
        }
        queued.append(await client.post(f"{server.url}/chatkit", json=body, headers=alice))
        order.append("queued answered")

    async with httpx.AsyncClient(timeout=60) as client, trio.open_nursery() as nursery:
        body = {"type": "threads.create", "params": {"input": _input("running")}}
        async with client.stream("POST", f"{server.url}/chatkit", json=body, headers=alice) as r:
            buffer = b""
            async for chunk in r.aiter_bytes():
                buffer += chunk
                if b"thread.created" in buffer and not order:
                    thread_id = json.loads(buffer.split(b"\n\n")[0][6:])["thread"]["id"]
                    order.append("running started")
                    nursery.start_soon(send_queued, client, thread_id)
                    # The queued message holds its stream slot while it waits.
                    await wait_until(partial(streams_at_least, client, 2), seconds=10)
                    server.process.send_signal(signal.SIGTERM)
            order.append("running done")
            events = [json.loads(b[6:]) for b in buffer.split(b"\n\n") if b.startswith(b"data: ")]
            assert events[-1]["type"] == "thread.item.done"
    assert order == ["running started", "queued answered", "running done"]
    assert queued[0].status_code == 503
    assert queued[0].json()["error"]["code"] == "shutting_down"
    assert await trio.to_thread.run_sync(server.process.wait, 30) == 0
    items = _items(server_env, thread_id)
    assert [i["type"] for i in items] == ["user_message", "assistant_message"]


def _input(text: str) -> dict[str, object]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": [],
        "inference_options": {},
    }

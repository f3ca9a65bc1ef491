"""``robolearn serve --workers 2``: real processes on loopback.

One port and one database for both workers (the embedded PostgreSQL started once, by the
supervisor, or a DATABASE_URL); a worker killed with SIGKILL comes back while the other serves;
SIGTERM stops every process, the embedded PostgreSQL last; ``--port 0`` reports its real
port; workers do not outlive a supervisor killed with SIGKILL.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import httpx
import psutil
import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from robolearn.bench import (
    MessageResult,
    ServerProcess,
    chatkit_body,
    item_text,
    list_items,
    robolearn_server,
    stream_message,
    user_input,
)

from .conftest import ServerFactory, full_answer, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

TOKENS = 5
WORKERS = {"worker-1", "worker-2"}


def _workers(server: ServerProcess) -> dict[str, int]:
    """The supervisor's workers, name to pid (from their command lines)."""
    found = {}
    for child in psutil.Process(server.pid).children():
        argv = child.cmdline()
        if "--worker" in argv:
            found[json.loads(argv[argv.index("--worker") + 1])["name"]] = child.pid
    return found


def _postmasters(data_dir: Path) -> list[int]:
    """Running PostgreSQL servers (postmasters) whose data dir is in ``data_dir``."""
    pgdata = str(data_dir / "pgdata")
    found = []
    for process in psutil.process_iter(["cmdline"]):
        argv = process.info["cmdline"] or []
        if argv and Path(argv[0]).name == "postgres" and pgdata in argv:
            found.append(process.pid)
    return found


async def _answered_by(base_url: str, path: str = "/healthz") -> tuple[int, str | None]:
    """Status and answering process of ``path``, on a connection of its own."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        response = await client.get(path)
    return response.status_code, response.headers.get("X-Robolearn-Process")


async def _processes_in_metrics(base_url: str) -> set[str]:
    """The ``process`` labels of one scrape (a connection of its own)."""
    async with httpx.AsyncClient(base_url=base_url, timeout=10) as client:
        text = (await client.get("/metrics")).text
    return {
        sample.labels.get("process", "(none)")
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


async def _message(
    client: httpx.AsyncClient, user: str, text: str, thread_id: str | None = None
) -> tuple[MessageResult, str]:
    """One message, answered in full; the result and its thread's id."""
    seen: list[str] = []
    result = MessageResult(thread=0, index=0, text=text)
    body = (
        chatkit_body("threads.create", input=user_input(text))
        if thread_id is None
        else chatkit_body("threads.add_user_message", thread_id=thread_id, input=user_input(text))
    )
    await stream_message(client, user, body, result, seen.append)
    assert result.ok, result.error
    assert result.answer == full_answer(text, TOKENS)
    return result, thread_id or seen[0]


def _log_lines(server: ServerProcess) -> list[dict[str, Any]]:
    return [
        json.loads(line)
        for line in server.log_path.read_text().splitlines()
        if line.startswith("{")
    ]


@pytest.mark.parametrize("database", ["embedded", "database_url"])
async def test_two_workers_serve_one_port_from_one_database(
    start_server: ServerFactory, request: pytest.FixtureRequest, database: str
) -> None:
    env = {"ROBOLEARN_LOG_LEVEL": "INFO"}
    if database == "database_url":
        env["DATABASE_URL"] = request.getfixturevalue("database_url")
    server = start_server(tokens=TOKENS, delay_ms=1, workers=2, **env)
    data_dir = server.log_path.parent
    workers = _workers(server)
    assert set(workers) == WORKERS
    postmasters = _postmasters(data_dir)
    assert len(postmasters) == (1 if database == "embedded" else 0)

    # New connections go to both workers; each names itself in every sample it exposes.
    answered: set[str | None] = set()
    labelled: set[str] = set()

    async def both_seen() -> bool:
        status, process = await _answered_by(server.base_url)
        assert status == 200
        answered.add(process)
        scrape = await _processes_in_metrics(server.base_url)
        assert len(scrape) == 1, scrape  # one process per scrape, and no sample unlabelled
        labelled.update(scrape)
        return answered == WORKERS and labelled == WORKERS

    await wait_for(both_seen, 30, interval=0, what=lambda: f"both workers: {answered} {labelled}")

    # A conversation, each message on a connection of its own: whichever worker takes it,
    # the thread is in the one database.
    texts = ["first", "second", "third", "fourth"]
    thread_id = None
    for text in texts:
        async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
            _, thread_id = await _message(client, "alice", text, thread_id)
    assert thread_id is not None
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        items = await list_items(client, "alice", thread_id)
    assert [item_text(i) for i in items] == [
        part for text in texts for part in (text, full_answer(text, TOKENS))
    ]

    assert server.stop() == 0
    assert not any(psutil.pid_exists(pid) for pid in workers.values())
    assert _postmasters(data_dir) == []
    lines = _log_lines(server)
    started_postgres = [
        line for line in lines if line["msg"].startswith("starting embedded PostgreSQL in")
    ]
    if database == "embedded":
        assert [line["process"] for line in started_postgres] == ["supervisor"]
        assert any(line["msg"].startswith("stopping embedded PostgreSQL") for line in lines)
    else:
        assert started_postgres == []
    migrations = {line["process"] for line in lines if line["msg"].startswith("applying migr")}
    assert migrations == {"supervisor"}
    assert any(line["msg"] == "all 2 workers have exited" for line in lines)


async def test_a_killed_worker_is_restarted_while_the_other_serves(
    start_server: ServerFactory, database_url: str
) -> None:
    server = start_server(tokens=TOKENS, delay_ms=1, workers=2, DATABASE_URL=database_url)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        _, thread_id = await _message(client, "bob", "before the kill")
    victim = _workers(server)["worker-1"]

    os.kill(victim, signal.SIGKILL)
    await trio.to_thread.run_sync(psutil.Process(victim).wait, 10)

    # Service goes on: new connections are taken by the live worker, and the conversation
    # continues there.
    for _ in range(10):
        assert await _answered_by(server.base_url) == (200, "worker-2")
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        await _message(client, "bob", "while it is down", thread_id)

    async def back() -> bool:
        return await _answered_by(server.base_url, "/readyz") == (200, "worker-1")

    await wait_for(back, 60, interval=0.05, what="worker-1 serving again")
    restarted = _workers(server)
    assert set(restarted) == WORKERS and restarted["worker-1"] != victim
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        await _message(client, "bob", "after the restart", thread_id)
    assert f"worker-1 (pid {victim}) was killed by SIGKILL; restarting it in 0.5 s" in (
        server.log_path.read_text()
    )
    assert server.stop() == 0


async def test_port_0_is_reported_and_no_worker_outlives_a_killed_supervisor(
    tmp_path: Path, database_url: str
) -> None:
    server = robolearn_server(
        0,
        tmp_path / "robolearn",
        {"DATABASE_URL": database_url, "ROBOLEARN_LOG_LEVEL": "INFO"},
        workers=2,
    )
    server.launch()
    try:

        async def reported() -> bool:
            return any(line["msg"].startswith("listening on") for line in _log_lines(server))

        await wait_for(reported, 60, what="the supervisor's listening line")
        line = next(
            line["msg"] for line in _log_lines(server) if line["msg"].startswith("listening on")
        )
        url = line.split()[2]
        assert line == f"listening on {url} with 2 workers"
        server.port = int(url.rsplit(":", 1)[1])
        assert url == server.base_url and server.port != 0
        await trio.to_thread.run_sync(server.wait_ready)
        # Each worker serves that port: the one socket the supervisor bound.
        running_on = {
            line["process"]: line["msg"]
            for line in _log_lines(server)
            if line["msg"].startswith("Running on")
        }
        assert running_on == {name: f"Running on {url} (CTRL + C to quit)" for name in WORKERS}

        workers = [psutil.Process(pid) for pid in _workers(server).values()]
        server.kill()
        _, alive = await trio.to_thread.run_sync(lambda: psutil.wait_procs(workers, timeout=60))
        assert alive == []
        assert server.log_path.read_text().count("the supervisor is gone: shutting down") == 2
        with pytest.raises(httpx.ConnectError):  # nobody holds the port any more
            await _answered_by(server.base_url)
    finally:
        server.stop()

"""One writer per thread across REAL server processes on one database (``DATABASE_URL``).

Each test runs 2-3 ``python -m robolearn serve`` processes on loopback and sends one
thread's requests through different ones: turns never interleave, each turn sees the ones
before it, a rename made elsewhere survives, and a process killed with SIGKILL mid-turn frees
the thread for the others.
"""

from __future__ import annotations

import re
from typing import Any

import httpx
import pytest
import trio

from robolearn.bench import (
    MessageResult,
    ServerProcess,
    chatkit_body,
    item_text,
    list_items,
    stream_message,
    user_input,
)

from .conftest import ServerFactory, full_answer, start_side_by_side, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

USER = "writer"


async def start_servers(
    start_server: ServerFactory, database_url: str, *envs: dict[str, Any]
) -> list[ServerProcess]:
    """A server per ``envs`` entry, on one database, started side by side (each waits for
    /readyz)."""
    return await start_side_by_side(
        start_server,
        *({"name": f"p{n}", "DATABASE_URL": database_url, **env} for n, env in enumerate(envs)),
    )


async def send(
    server: ServerProcess, text: str, thread_id: str | None = None, user: str = USER
) -> tuple[MessageResult, str | None]:
    """One message (a new thread without ``thread_id``); returns what came back and the
    thread's id."""
    result = MessageResult(thread=0, index=0, text=text)
    created: list[str] = []
    body = (
        chatkit_body("threads.create", input=user_input(text))
        if thread_id is None
        else chatkit_body("threads.add_user_message", thread_id=thread_id, input=user_input(text))
    )
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60) as client:
        await stream_message(client, user, body, result, created.append)
    return result, created[0] if created else thread_id


async def items_of(server: ServerProcess, thread_id: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        return await list_items(client, USER, thread_id)


async def call(server: ServerProcess, kind: str, **params: Any) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        response = await client.post(
            "/chatkit",
            content=chatkit_body(kind, **params),
            headers={"X-User-ID": USER, "Content-Type": "application/json"},
        )
        response.raise_for_status()
        answer: dict[str, Any] = response.json()
        return answer


def conversation(items: list[dict[str, Any]]) -> list[tuple[str, str]]:
    """(type, text) of the thread's messages, oldest first."""
    return [
        (item["type"], item_text(item))
        for item in items
        if item["type"] in ("user_message", "assistant_message")
    ]


async def test_concurrent_messages_through_three_processes_never_interleave(
    start_server: ServerFactory, database_url: str
) -> None:
    tokens = 10
    servers = await start_servers(
        start_server, database_url, *[{"tokens": tokens, "delay_ms": 20}] * 3
    )
    first, thread_id = await send(servers[0], "q0")
    assert first.ok, first.error
    assert thread_id is not None
    results: dict[str, MessageResult] = {}

    async def one(n: int) -> None:
        results[f"q{n}"], _ = await send(servers[n % 3], f"q{n}", thread_id)

    # Three at a time into each process: without one writer per thread, their turns (200 ms
    # each) overlap across processes and their items interleave.
    async with trio.open_nursery() as nursery:
        for n in range(1, 10):
            nursery.start_soon(one, n)
    assert all(r.ok for r in results.values()), {t: r.error for t, r in results.items()}

    messages = conversation(await items_of(servers[1], thread_id))
    kinds = [kind for kind, _ in messages]
    assert kinds == ["user_message", "assistant_message"] * 10, kinds
    asked = [text for kind, text in messages if kind == "user_message"]
    assert sorted(asked) == sorted(f"q{n}" for n in range(10))  # none lost, none twice
    for (_, question), (_, answer) in zip(messages[::2], messages[1::2], strict=True):
        assert answer == full_answer(question, tokens)


async def test_each_turn_sees_the_turns_before_it_whichever_process_ran_them(
    start_server: ServerFactory, database_url: str
) -> None:
    env = {"tokens": 3, "delay_ms": 1, "ROBOLEARN_SCRIPTED_ECHO_HISTORY": "1"}
    servers = await start_servers(start_server, database_url, env, env)
    thread_id: str | None = None
    histories = []
    # p0, p1, p0, p1, p0: each process's actor stays alive between its turns, with a memo
    # the other process's turns make stale.
    for n in range(5):
        result, thread_id = await send(servers[n % 2], f"m{n}", thread_id)
        assert result.ok, result.error
        found = re.match(rf"answer to: m{n} \[history (\d+)\]", result.answer or "")
        assert found, result.answer
        histories.append(int(found[1]))
    assert histories == [histories[0] + 2 * n for n in range(5)], histories


async def test_a_rename_through_one_process_during_an_answer_on_another_is_kept(
    start_server: ServerFactory, database_url: str
) -> None:
    servers = await start_servers(start_server, database_url, *[{"tokens": 50, "delay_ms": 20}] * 2)
    first, thread_id = await send(servers[0], "first")
    assert first.ok and thread_id is not None
    answering = MessageResult(thread=0, index=1, text="second")
    async with (
        httpx.AsyncClient(base_url=servers[0].base_url, timeout=60) as client,
        trio.open_nursery() as nursery,
    ):
        body = chatkit_body(
            "threads.add_user_message", thread_id=thread_id, input=user_input("second")
        )
        nursery.start_soon(stream_message, client, USER, body, answering)
        await wait_for(lambda: _streaming(answering), 30, what="the answer on p0 to start")
        renamed = await call(servers[1], "threads.update", thread_id=thread_id, title="Renamed")
        assert renamed["title"] == "Renamed"
        assert answering.answer is None  # the answer was still under way
    assert answering.ok, answering.error
    # The next turn on the first process starts from the stored thread, not its memory.
    third, _ = await send(servers[0], "third", thread_id)
    assert third.ok, third.error
    for server in servers:
        thread = await call(server, "threads.get_by_id", thread_id=thread_id)
        assert thread["title"] == "Renamed"


async def _streaming(result: MessageResult) -> bool:
    return result.deltas > 0


async def test_a_process_killed_mid_turn_frees_the_thread_at_once(
    start_server: ServerFactory, database_url: str
) -> None:
    # p0 answers slowly (4 s), p1 quickly.
    p0, p1 = await start_servers(
        start_server, database_url, {"tokens": 200, "delay_ms": 20}, {"tokens": 5, "delay_ms": 10}
    )
    first, thread_id = await send(p0, "m0")
    assert first.ok and thread_id is not None
    cut = MessageResult(thread=0, index=1, text="m1")
    async with (
        httpx.AsyncClient(base_url=p0.base_url, timeout=60) as client,
        trio.open_nursery() as nursery,
    ):
        body = chatkit_body("threads.add_user_message", thread_id=thread_id, input=user_input("m1"))
        nursery.start_soon(stream_message, client, USER, body, cut)
        await wait_for(lambda: _streaming(cut), 30, what="the answer on p0 to start")
        assert cut.acked  # the user message was stored and acknowledged
        p0.kill()
    assert not cut.ok
    with trio.fail_after(5):
        after, _ = await send(p1, "m2", thread_id)
    assert after.ok, after.error
    assert after.answer == full_answer("m2", 5)
    messages = conversation(await items_of(p1, thread_id))
    asked = [text for kind, text in messages if kind == "user_message"]
    assert asked == ["m0", "m1", "m2"]  # every acknowledged message, once, in order
    assert messages[-1] == ("assistant_message", full_answer("m2", 5))

"""Two real server processes on one database share each user's limits: the request rate
and the concurrent-stream cap hold for the pair, and a killed process's streams free their
slots at once."""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import AsyncExitStack, aclosing
from typing import cast

import httpx
import pytest
import trio

from robolearn.bench import ServerProcess, chatkit_body, user_input

from .conftest import ServerFactory, report, start_side_by_side

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

PER_MINUTE = 30


async def test_one_users_requests_over_two_processes_get_one_budget(
    start_server: ServerFactory, database_url: str
) -> None:
    env = {"DATABASE_URL": database_url, "ROBOLEARN_RATE_LIMIT_PER_MINUTE": str(PER_MINUTE)}
    servers = await start_side_by_side(
        start_server, *({"name": f"rate-{n}", **env} for n in range(2))
    )
    statuses: list[int] = []
    body = chatkit_body("threads.list", limit=1)
    async with AsyncExitStack() as stack:
        clients = [
            await stack.enter_async_context(httpx.AsyncClient(base_url=s.base_url, timeout=10))
            for s in servers
        ]

        async def worker(n: int) -> None:
            # Spread over both processes, several requests in flight at once.
            for k in range(12):
                client = clients[(n + k) % 2]
                response = await client.post("/chatkit", content=body, headers=_user("al"))
                statuses.append(response.status_code)

        started = trio.current_time()
        async with trio.open_nursery() as nursery:
            for n in range(8):
                nursery.start_soon(worker, n)
        elapsed = trio.current_time() - started
        other = await clients[1].post("/chatkit", content=body, headers=_user("bo"))

    accepted = statuses.count(200)
    # The burst, plus what refilled while the requests went on (one every 2 s).
    expected = PER_MINUTE + elapsed * PER_MINUTE / 60
    report(
        "shared-rate-limit",
        {"sent": len(statuses), "accepted": accepted, "expected": expected, "seconds": elapsed},
    )
    assert set(statuses) <= {200, 429}
    # Each process counting alone would have let 2 x 30 through.
    assert abs(accepted - expected) <= 0.1 * PER_MINUTE, (accepted, expected)
    assert other.status_code == 200  # budgets are per user


async def test_the_stream_cap_holds_over_two_processes_and_a_killed_one_frees_its_slots(
    start_server: ServerFactory, database_url: str
) -> None:
    # Answers of 400 x 25 ms = 10 s: they all run through the whole test.
    env = {"DATABASE_URL": database_url, "ROBOLEARN_MAX_STREAMS_PER_USER": "2"}
    first, second = await start_side_by_side(
        start_server, *({"name": f"cap-{n}", "tokens": 400, "delay_ms": 25, **env} for n in "ab")
    )
    async with trio.open_nursery() as streams:

        async def ask(server: ServerProcess, user: str) -> int:
            status: int = await streams.start(_hold_stream, server, user)
            return status

        # Six at once, three at each process: two may stream.
        burst: list[int] = []

        async def ask_carol(server: ServerProcess) -> None:
            burst.append(await ask(server, "carol"))

        async with trio.open_nursery() as nursery:
            for server in (first, second) * 3:
                nursery.start_soon(ask_carol, server)
        assert sorted(burst) == [200, 200, 429, 429, 429, 429]

        # One answer of alice's on each process: the third is refused by both.
        assert [await ask(first, "alice"), await ask(second, "alice")] == [200, 200]
        assert [await ask(first, "alice"), await ask(second, "alice")] == [429, 429]
        assert await ask(first, "bob") == 200  # caps are per user

        # The first process dies holding one of alice's slots: it is free at once.
        first.kill()
        killed = trio.current_time()
        with trio.fail_after(5):
            while await ask(second, "alice") != 200:  # noqa: ASYNC110 -- another process
                await trio.sleep(0.05)
        freed_after = trio.current_time() - killed
        assert await ask(second, "alice") == 429  # and no more than the cap
        streams.cancel_scope.cancel()
    report("shared-stream-cap", {"slot_free_after_kill_s": round(freed_after, 3)})


async def _hold_stream(
    server: ServerProcess, user: str, *, task_status: trio.TaskStatus[int]
) -> None:
    """Ask for an answer for ``user``; once it has begun (or been refused), report the
    status, and read the answer to its end: a reader that leaves cancels it."""
    body = chatkit_body("threads.create", input=user_input("hold on"))
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        try:
            async with client.stream("POST", "/chatkit", content=body, headers=_user(user)) as r:
                if r.status_code != 200:
                    await r.aread()
                    task_status.started(r.status_code)
                    return
                began = False
                async with aclosing(cast(AsyncGenerator[bytes, None], r.aiter_bytes())) as chunks:
                    async for chunk in chunks:
                        if not began and b"thread.item.added" in chunk:
                            task_status.started(200)
                            began = True
        except (httpx.TransportError, httpx.StreamError):
            pass  # its server was killed


def _user(user: str) -> dict[str, str]:
    return {"X-User-ID": user, "Content-Type": "application/json"}

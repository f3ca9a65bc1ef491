"""200 slow clients at once: each is cut at its deadline while a normal client keeps being
served, and the server is left with no more tasks or memory than before."""

from __future__ import annotations

import json
import os
from pathlib import Path

import attrs
import httpx
import trio
import trio.testing

from tests._tasks import live_tasks

from ._raw import Server, chatkit_request, head, read_response, serving, trickle, until_closed

SLOW_CLIENTS = 200
DEADLINE = 0.5  # the other deadlines, in seconds: body grace, keep-alive
# Longer, because every client sends its head right after connecting, and on a loaded machine
# the 200 of them may not all get to it in DEADLINE seconds: they would be cut for being late.
HEAD_DEADLINE = 1.0
MIN_BODY_RATE = 1000
SLACK = 8.0  # how late after its deadline a cut may come (a loaded 2-core CI machine)
WAVES = 2


@attrs.frozen
class Cut:
    kind: str
    deadline: float  # seconds from the client's start, at the earliest
    after: float  # seconds from the client's start until the server closed the connection
    received: bytes


async def _stalled_head(server: Server) -> Cut:
    # A few bytes of the head, then a byte now and then: never a whole head.
    started = trio.current_time()
    async with await server.connect() as stream, trio.open_nursery() as nursery:
        nursery.start_soon(trickle, stream, head("GET", "/healthz"), 0.2)
        received = await until_closed(stream)
        nursery.cancel_scope.cancel()
    return Cut("head", HEAD_DEADLINE, trio.current_time() - started, received)


async def _slow_body(server: Server) -> Cut:
    # 1 MB declared; 1000 bytes at once (a second's worth of credit), then a byte at a time.
    started = trio.current_time()
    async with await server.connect() as stream, trio.open_nursery() as nursery:
        await stream.send_all(head("POST", "/chatkit", length=1 << 20) + b" " * 1000)
        nursery.start_soon(trickle, stream, b" " * 1000, 0.1)
        received = await until_closed(stream)
        nursery.cancel_scope.cancel()
    return Cut("body", DEADLINE + 1000 / MIN_BODY_RATE, trio.current_time() - started, received)


async def _idle_after_healthz(server: Server) -> Cut:
    async with await server.connect() as stream:
        started = trio.current_time()  # before the server's keep-alive timer starts
        await stream.send_all(head("GET", "/healthz"))
        assert (await read_response(stream))[0] == 200
        received = await until_closed(stream)
    return Cut("idle", DEADLINE, trio.current_time() - started, received)


_KINDS = (_stalled_head, _slow_body, _idle_after_healthz)


def _rss() -> int:
    with open("/proc/self/statm") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


async def _normal_client(
    server: Server, until: trio.Event, served: list[int], tasks: list[int]
) -> None:
    """Requests one after another, on one kept-alive connection while it lasts."""
    # A generous timeout: on a loaded machine a request may wait; what counts is that it is
    # answered (200) while the slow clients hang on.
    async with httpx.AsyncClient(base_url=server.url, timeout=30) as client:
        while not until.is_set():
            health = await client.get("/healthz")
            listed = await client.post(
                "/chatkit",
                content=json.dumps({"type": "threads.list", "params": {}}),
                headers={"X-User-ID": "bob"},
            )
            served.extend((health.status_code, listed.status_code))
            tasks.append(live_tasks())


async def _wave(server: Server) -> tuple[list[Cut], list[int], float, int]:
    """All slow clients at once, and the normal one beside them until they are all cut."""
    cuts: list[Cut] = []
    served: list[int] = []
    tasks: list[int] = []
    done = trio.Event()

    async def slow(kind: int) -> None:
        cuts.append(await _KINDS[kind % len(_KINDS)](server))

    started = trio.current_time()
    async with trio.open_nursery() as nursery:
        nursery.start_soon(_normal_client, server, done, served, tasks)
        # Without deadlines the slow clients would hang on for ever: this bound fails then.
        with trio.fail_after(HEAD_DEADLINE + DEADLINE + 1 + SLACK + 10):
            async with trio.open_nursery() as clients:
                for n in range(SLOW_CLIENTS):
                    clients.start_soon(slow, n)
        took = trio.current_time() - started
        done.set()
    return cuts, served, took, max(tasks)


async def test_200_slow_clients_are_cut_while_a_normal_one_is_served(
    database_url: str, tmp_path: Path
) -> None:
    deadlines = {
        "header_timeout": HEAD_DEADLINE,
        "body_timeout": DEADLINE,
        "min_body_rate": MIN_BODY_RATE,
        "keep_alive_timeout": DEADLINE,
        "rate_limit_per_minute": 0,  # the normal client's hundreds of requests
    }
    async with serving(database_url, tmp_path, **deadlines) as server:
        stream = await server.connect()  # warm up every path once
        await stream.send_all(chatkit_request())
        await read_response(stream)
        await server.close_connections()
        await trio.testing.wait_all_tasks_blocked()
        tasks, rss = [live_tasks()], [_rss()]
        for _ in range(WAVES):
            cuts, served, took, peak = await _wave(server)
            await trio.testing.wait_all_tasks_blocked()
            tasks.append(live_tasks())
            rss.append(_rss())

            assert len(cuts) == SLOW_CLIENTS
            for cut in cuts:
                assert cut.deadline <= cut.after < cut.deadline + SLACK, cut
            heads = [cut.received for cut in cuts if cut.kind == "head"]
            bodies = [cut.received for cut in cuts if cut.kind == "body"]
            idle = [cut.received for cut in cuts if cut.kind == "idle"]
            assert set(heads) == {b""}
            assert all(received.startswith(b"HTTP/1.1 408 ") for received in bodies)
            assert set(idle) == {b""}
            assert served, "the normal client got no answer meanwhile"
            assert set(served) == {200}
            print(
                f"{SLOW_CLIENTS} slow clients all cut {took:.2f} s after they started; the "
                f"normal client had {len(served)} answers meanwhile; at most {peak} tasks; "
                "slowest cut of each kind: "
                + ", ".join(
                    f"{kind} {max(c.after for c in cuts if c.kind == kind):.2f} s"
                    for kind in ("head", "body", "idle")
                )
            )
    print(f"tasks: {tasks}; RSS MiB: {[round(r / 2**20, 1) for r in rss]}")
    assert tasks[1:] == tasks[:1] * WAVES  # every connection's tasks are gone
    # What the waves allocate is given back for the next one: no growth from wave to wave.
    assert rss[-1] - rss[1] < 8 << 20

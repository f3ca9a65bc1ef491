"""Clients hang up at random points: before the answer starts, mid-stream, at once.

With ``ROBOLEARN_ON_DISCONNECT=finish`` a disconnect does not cancel the turn, so every message
that reached its thread's actor is answered and persisted in full. With ``cancel`` (the
default: ChatKit's Stop) the turn stops, and what was answered so far is kept: every answer
stored is the start of the right answer, or all of it. Either way nothing is lost, duplicated
or reordered, and afterwards nothing is left running (no busy actor, no asyncio task, the trio
task count back where it started once the actors have passivated).
"""

from __future__ import annotations

import random

import httpx
import pytest
import trio

from robolearn.bench import (
    MessageResult,
    chatkit_body,
    item_text,
    list_items,
    stream_message,
    user_input,
)

from .conftest import ServerFactory, admin_stats, full_answer, quiescent, report, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

THREADS, MESSAGES, TOKENS = 60, 4, 20
# Fewer under `cancel`: its turns end early, and the hang-ups are the same random mix.
CANCEL_THREADS = 30


async def hang_up_after(
    base_url: str, user: str, body: bytes, result: MessageResult, events: int, seconds: float
) -> None:
    """POST over a raw socket, then close it after ``events`` SSE events or ``seconds``, or
    once the response has ended (the server keeps the connection open for the next request:
    waiting for more events there would only wait out ``seconds``)."""
    url = httpx.URL(base_url)
    head = (
        f"POST /chatkit HTTP/1.1\r\nHost: {url.host}\r\nContent-Type: application/json\r\n"
        f"X-User-ID: {user}\r\nContent-Length: {len(body)}\r\n\r\n"
    ).encode()
    seen = b""
    stream = await trio.open_tcp_stream(url.host, url.port or 80)
    async with stream:
        await stream.send_all(head + body)
        with trio.move_on_after(seconds):
            while seen.count(b"data: ") < events:
                chunk = await stream.receive_some()
                if not chunk:
                    break
                seen += chunk
                if seen.endswith(b"\r\n0\r\n\r\n"):  # the last chunk of the response
                    break
    # The socket is closed here, whatever the server was doing.
    result.events = seen.count(b"data: ")
    result.acked = b'"type":"user_message"' in seen


def _acked_order_kept(asked: list[str], results: list[MessageResult]) -> bool:
    """Everything sent after a message the server acknowledged comes after it in the thread.

    A message whose client hung up before any acknowledgement has no place in the order until
    it reaches the server, which may be after the next one (that is the client's race, not
    the server's): it only has to be there once, whole, if it is there at all.
    """
    where = {text: n for n, text in enumerate(asked)}
    return all(
        where[later.text] > where[result.text]
        for k, result in enumerate(results)
        if result.acked and result.text in where
        for later in results[k + 1 :]
        if later.text in where
    )


@pytest.mark.parametrize("policy", ["finish", "cancel"])
async def test_random_disconnects_lose_nothing(start_server: ServerFactory, policy: str) -> None:
    server = start_server(
        tokens=TOKENS,
        delay_ms=10,
        ROBOLEARN_ACTOR_IDLE_TIMEOUT="2",
        ROBOLEARN_ON_DISCONNECT=policy,
    )
    threads = THREADS if policy == "finish" else CANCEL_THREADS
    rng = random.Random(2)
    before = await admin_stats(server.base_url)
    thread_ids: dict[int, str] = {}
    sent: dict[int, list[MessageResult]] = {}
    modes = {"at_once": 0, "before_first_event": 0, "mid_stream": 0}

    async def converse(t: int, client: httpx.AsyncClient) -> None:
        user = f"hangup-{t}"
        first = MessageResult(thread=t, index=0, text=f"d-t{t}-m0")
        await stream_message(
            client, user, chatkit_body("threads.create", input=user_input(first.text)), first,
            lambda tid: thread_ids.__setitem__(t, tid),
        )  # fmt: skip
        assert first.ok, first.error
        sent[t] = [first]
        for k in range(1, MESSAGES + 1):
            result = MessageResult(thread=t, index=k, text=f"d-t{t}-m{k}")
            sent[t].append(result)
            body = chatkit_body(
                "threads.add_user_message", thread_id=thread_ids[t], input=user_input(result.text)
            )
            choice = rng.random()
            if choice < 0.2:
                modes["at_once"] += 1
                await hang_up_after(server.base_url, user, body, result, 0, 0.0)
            elif choice < 0.4:
                modes["before_first_event"] += 1
                await hang_up_after(
                    server.base_url, user, body, result, 1_000, rng.uniform(0.0, 0.03)
                )
            else:
                modes["mid_stream"] += 1
                await hang_up_after(server.base_url, user, body, result, rng.randrange(1, 25), 5.0)
            await trio.sleep(0.1)  # the user typing again

    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        with trio.fail_after(90):
            async with trio.open_nursery() as nursery:
                for t in range(threads):
                    nursery.start_soon(converse, t, client)
    await wait_for(lambda: quiescent(server.base_url), 30, what="no turn running")

    persisted = duplicated = lost = out_of_order = incomplete = acked = stopped = 0
    async with httpx.AsyncClient(base_url=server.base_url, timeout=30) as client:
        for t, results in sent.items():
            items = await list_items(client, f"hangup-{t}", thread_ids[t])
            asked = [item_text(i) for i in items if i["type"] == "user_message"]
            persisted += len(set(asked))
            duplicated += len(asked) - len(set(asked))
            acked += sum(r.acked for r in results)
            lost += sum(1 for r in results if r.acked and r.text not in asked)
            out_of_order += not _acked_order_kept(asked, results)
            for n, item in enumerate(items):
                if item["type"] == "user_message":
                    after = items[n + 1] if n + 1 < len(items) else None
                    expected = full_answer(item_text(item), TOKENS)
                    if after is not None and item_text(after) == expected:
                        continue
                    # Stopped: nothing said yet, or the start of the right answer.
                    if policy == "cancel" and (
                        after is None
                        or after["type"] == "user_message"
                        or expected.startswith(item_text(after))
                    ):
                        stopped += 1
                    else:
                        incomplete += 1

    # Every actor passivates (idle timeout 2 s); then nothing of the run remains.
    last: list[object] = []

    async def settled() -> bool:
        stats = await admin_stats(server.base_url)
        last[:] = [stats]
        return bool(
            stats["actors"]["live_actors"] == 0
            and stats["asyncio_tasks"] == 0
            and stats["trio_tasks"] <= before["trio_tasks"]
        )

    await wait_for(
        settled, 30, interval=0.5, what=lambda: f"no task left (before: {before}, now: {last})"
    )
    after_stats = await admin_stats(server.base_url)
    counts = {
        "threads": threads,
        "messages_sent": sum(len(r) for r in sent.values()),
        "disconnects": modes,
        "acknowledged": acked,
        "persisted": persisted,
        "never_reached_the_server": sum(len(r) for r in sent.values()) - persisted,
        "duplicated": duplicated,
        "lost": lost,
        "threads_out_of_order": out_of_order,
        "incomplete_answers": incomplete,
        "stopped_answers": stopped,
        "trio_tasks_before": before["trio_tasks"],
        "trio_tasks_after": after_stats["trio_tasks"],
        "asyncio_tasks_after": after_stats["asyncio_tasks"],
        "actors": after_stats["actors"],
    }
    report("disconnect" if policy == "finish" else "disconnect-cancel", counts)
    assert sum(modes.values()) == threads * MESSAGES
    assert duplicated == lost == out_of_order == incomplete == 0
    if policy == "cancel":
        assert stopped > 0, "no answer was stopped: the disconnects did not cancel"
    # Most hang-ups happen after the request arrived: their answers must be there.
    assert persisted >= threads * (1 + MESSAGES // 2)
    assert after_stats["actors"]["busy_actors"] == 0

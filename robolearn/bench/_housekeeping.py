"""How long housekeeping waits while its thread streams an answer (``--housekeeping``).

Renames (``threads.update``), votes (``items.feedback``) and ``attachments.delete`` must never
queue behind a running answer. Probes start a thread of their own, and once its answer is
streaming (its first text delta came) time each of the three requests on that thread, then
read the answer to its end. Background load keeps the server as busy as ``concurrency``
other streams make it.
"""

from __future__ import annotations

import json
import time
from typing import Any

import attrs
import httpx
import trio

from ._load import SseParser, chatkit_body, percentile, user_input

__all__ = ["HousekeepingStats", "probe_housekeeping"]

KINDS = ("threads.update", "items.feedback", "attachments.delete")
# For scale: what the busy server takes to answer a request that waits for nothing at all
# (it also opens the probe's second connection, so it pays for the connect).
CONTROL = "GET /healthz"


@attrs.define
class HousekeepingStats:
    """Latencies (seconds) of each housekeeping request, and how many came back while their
    thread's answer was still streaming (they all should)."""

    latencies: dict[str, list[float]] = attrs.Factory(
        lambda: {kind: [] for kind in (*KINDS, CONTROL)}
    )
    during_answer: int = 0
    failures: list[str] = attrs.Factory(list)

    def as_dict(self) -> dict[str, Any]:
        summary: dict[str, Any] = {
            kind: {
                "n": len(values),
                **{f"p{q}_ms": round(percentile(values, q) * 1000, 1) for q in (50, 95, 99)},
                "max_ms": round(max(values, default=float("nan")) * 1000, 1),
            }
            for kind, values in self.latencies.items()
        }
        summary["answered_while_streaming"] = self.during_answer
        summary["failures"] = self.failures[:20]
        return summary


async def probe_housekeeping(
    base_url: str, *, probes: int, parallel: int = 10, http_timeout: float = 120.0
) -> HousekeepingStats:
    """Run ``probes`` probes, ``parallel`` at a time, against the server at ``base_url``."""
    stats = HousekeepingStats()
    limiter = trio.CapacityLimiter(parallel)

    async def probe(n: int) -> None:
        async with limiter, httpx.AsyncClient(base_url=base_url, timeout=http_timeout) as client:
            try:
                await _probe(client, f"housekeeping-{n}", stats)
            except (httpx.HTTPError, KeyError, ValueError) as exc:
                stats.failures.append(f"probe {n}: {exc!r}"[:200])

    async with trio.open_nursery() as nursery:
        for n in range(probes):
            nursery.start_soon(probe, n)
    return stats


async def _probe(client: httpx.AsyncClient, user: str, stats: HousekeepingStats) -> None:
    headers = {"X-User-ID": user, "Content-Type": "application/json"}

    async def call(request_type: str, **params: Any) -> dict[str, Any]:
        started = time.perf_counter()
        response = await client.post(
            "/chatkit",
            content=json.dumps({"type": request_type, "params": params}).encode(),
            headers=headers,
        )
        elapsed = time.perf_counter() - started
        response.raise_for_status()
        if request_type in stats.latencies:
            stats.latencies[request_type].append(elapsed)
        answer: dict[str, Any] = response.json()
        return answer

    body = chatkit_body("threads.create", input=user_input(f"{user}: a long answer, please"))
    parser = SseParser()
    async with client.stream("POST", "/chatkit", content=body, headers=headers) as sse:
        sse.raise_for_status()
        chunks = sse.aiter_raw()
        thread_id = message_id = None
        async for chunk in chunks:
            for payload in parser.feed(chunk):
                event = json.loads(payload)
                if event["type"] == "thread.created":
                    thread_id = event["thread"]["id"]
                elif event["type"] == "thread.item.done":
                    message_id = event["item"]["id"]
                elif event["type"] == "thread.item.updated" and thread_id and message_id:
                    break
            else:
                continue
            break
        if thread_id is None or message_id is None:
            raise ValueError("the answer ended before it streamed")
        # First, for scale, and so that the connection the next requests need beside the
        # stream is open already (a browser keeps one open; opening it is not housekeeping).
        started = time.perf_counter()
        (await client.get("/healthz")).raise_for_status()
        stats.latencies[CONTROL].append(time.perf_counter() - started)
        await call("threads.update", thread_id=thread_id, title=f"{user} renamed")
        await call("items.feedback", thread_id=thread_id, item_ids=[message_id], kind="negative")
        attachment = await call(
            "attachments.create", name="notes.txt", size=5, mime_type="text/plain"
        )
        await call("attachments.delete", attachment_id=attachment["id"])
        # Still streaming if its answer is not stored yet (the stream itself sits unread).
        items = await call("items.list", thread_id=thread_id, order="asc")
        if not any(item["type"] == "assistant_message" for item in items["data"]):
            stats.during_answer += 1
        async for _ in chunks:
            pass

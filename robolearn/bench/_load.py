"""The load generator: N threads x M messages over the ChatKit protocol, on trio + httpx.

Each thread belongs to its own user and sends its messages in order: message k+1 goes out
when message k's stream has ended, or, with ``pipeline`` P > 1, while up to P of the thread's
messages are in flight (sent a few milliseconds apart, so they arrive in order). ``concurrency``
bounds how many threads are active at once. Every message text is unique
(``<run>-t<thread>-m<k>``) and the scripted model answers ``answer to: <text> ...``, so
:func:`verify` can check from outside that nothing was lost, duplicated or reordered.
"""

from __future__ import annotations

import json
import math
import ssl
import time
import uuid
from collections.abc import Callable
from typing import Any

import attrs
import httpx
import trio

__all__ = [
    "LoadPlan",
    "LoadResult",
    "MessageResult",
    "SseParser",
    "VerifyResult",
    "chatkit_body",
    "run_load",
    "user_input",
    "verify",
]


def user_input(text: str, attachments: list[str] | None = None) -> dict[str, Any]:
    return {
        "content": [{"type": "input_text", "text": text}],
        "attachments": attachments or [],
        "inference_options": {},
    }


def chatkit_body(kind: str, **params: Any) -> bytes:
    return json.dumps({"type": kind, "params": params}).encode()


class SseParser:
    """Splits a byte stream into SSE ``data:`` payloads (bytes, not yet JSON-decoded)."""

    def __init__(self) -> None:
        self._buffer = b""

    def feed(self, chunk: bytes) -> list[bytes]:
        self._buffer += chunk
        *blocks, self._buffer = self._buffer.split(b"\n\n")
        return [block[6:] for block in blocks if block.startswith(b"data: ")]


# Deltas are most of a stream; they are counted without being decoded.
_DELTA_MARK = b'"type":"thread.item.updated"'


@attrs.define(eq=False)
class MessageResult:
    """What the client saw of one message."""

    thread: int
    index: int
    text: str
    status: int = 0
    ttfe: float | None = None  # seconds from sending to the first SSE event
    total: float | None = None  # seconds from sending to the end of the stream
    events: int = 0
    acked: bool = False  # the user message's thread.item.done arrived
    answer: str | None = None  # the assistant's text at thread.item.done
    error: str | None = None  # transport error, HTTP error body, or error event message
    error_event: dict[str, Any] | None = None  # the ``error`` event, if one ended the stream
    deltas: int = 0  # thread.item.updated events
    seen: str = ""  # the answer text streamed so far (with ``collect``)

    @property
    def ok(self) -> bool:
        return self.error is None and self.answer is not None


@attrs.frozen(kw_only=True)
class LoadPlan:
    threads: int
    messages: int
    concurrency: int
    pipeline: int = 1
    pipeline_gap: float = 0.01
    run_id: str = attrs.field(factory=lambda: uuid.uuid4().hex[:8])
    timeout: float = 120.0

    def text(self, thread: int, index: int) -> str:
        return f"{self.run_id}-t{thread}-m{index}"

    def user(self, thread: int) -> str:
        return f"bench-{self.run_id}-{thread}"


@attrs.define
class LoadResult:
    plan: LoadPlan
    started: float
    finished: float
    messages: list[MessageResult]
    thread_ids: dict[int, str]

    @property
    def wall(self) -> float:
        return self.finished - self.started


async def stream_message(
    client: httpx.AsyncClient,
    user: str,
    body: bytes,
    result: MessageResult,
    on_thread: Callable[[str], object] | None = None,
    *,
    collect: bool = False,
) -> None:
    """POST one streaming ChatKit request and record what came back in ``result``.

    ``collect`` also decodes every text delta into ``result.seen`` (slower; for checks).
    """
    headers = {"X-User-ID": user, "Content-Type": "application/json"}
    parser = SseParser()
    started = time.perf_counter()
    try:
        async with client.stream("POST", "/chatkit", content=body, headers=headers) as response:
            result.status = response.status_code
            if response.status_code != 200:
                result.error = f"HTTP {response.status_code}: {(await response.aread())[:200]!r}"
                return
            async for chunk in response.aiter_raw():
                for payload in parser.feed(chunk):
                    if result.ttfe is None:
                        result.ttfe = time.perf_counter() - started
                    result.events += 1
                    if _DELTA_MARK in payload[:40]:
                        result.deltas += 1
                        if collect:
                            update = json.loads(payload)["update"]
                            result.seen += update.get("delta", "")
                        continue
                    _on_event(json.loads(payload), result, on_thread)
    except httpx.HTTPError as exc:
        result.error = f"transport: {exc!r}"[:300]
    finally:
        result.total = time.perf_counter() - started
    if result.error is None and result.answer is None:
        result.error = "stream ended without an answer"


def _on_event(
    event: dict[str, Any], result: MessageResult, on_thread: Callable[[str], object] | None
) -> None:
    kind = event.get("type")
    if kind == "thread.created" and on_thread is not None:
        on_thread(event["thread"]["id"])
    elif kind == "thread.item.done":
        item = event["item"]
        if item.get("type") == "user_message":
            result.acked = True
        elif item.get("type") == "assistant_message":
            result.answer = "".join(part.get("text", "") for part in item.get("content", []))
    elif kind == "error":
        result.error = f"error event: {event.get('message')}"
        result.error_event = event


async def run_load(base_url: str, plan: LoadPlan) -> LoadResult:
    """Run ``plan`` against the ChatKit server at ``base_url``; returns every message's fate."""
    results = [
        MessageResult(thread=t, index=k, text=plan.text(t, k))
        for t in range(plan.threads)
        for k in range(plan.messages)
    ]
    thread_ids: dict[int, str] = {}
    # One client (so one connection pool) per conversation, as each reader has a browser of
    # their own. A shared pool skews the figures it should measure: httpcore hands every
    # queued request the same idle connection, all but one retry, and when a hundred streams
    # end together their next messages leave one per pool round, seconds apart.
    limits = httpx.Limits(max_connections=plan.pipeline, max_keepalive_connections=plan.pipeline)
    timeout = httpx.Timeout(plan.timeout, connect=30)
    tls = ssl.create_default_context()  # made once: loading CA certificates per client is slow
    active = trio.CapacityLimiter(plan.concurrency)

    async def converse(thread: int) -> None:
        async with (
            active,
            httpx.AsyncClient(
                base_url=base_url, limits=limits, timeout=timeout, verify=tls
            ) as client,
        ):
            mine = results[thread * plan.messages : (thread + 1) * plan.messages]
            created = trio.Event()

            def on_thread(thread_id: str) -> None:
                thread_ids[thread] = thread_id
                created.set()

            first = mine[0]
            body = chatkit_body("threads.create", input=user_input(first.text))
            if plan.pipeline <= 1:
                await stream_message(client, plan.user(thread), body, first, on_thread)
                for message in mine[1:]:
                    if thread not in thread_ids:
                        message.error = "no thread"
                        continue
                    body = chatkit_body(
                        "threads.add_user_message",
                        thread_id=thread_ids[thread],
                        input=user_input(message.text),
                    )
                    await stream_message(client, plan.user(thread), body, message)
                return
            in_flight = trio.CapacityLimiter(plan.pipeline)
            async with trio.open_nursery() as nursery:

                async def send(message: MessageResult, body: bytes) -> None:
                    try:
                        await stream_message(client, plan.user(thread), body, message, on_thread)
                    finally:
                        in_flight.release_on_behalf_of(message)
                        created.set()  # even a failed create must not block the others

                await in_flight.acquire_on_behalf_of(first)
                nursery.start_soon(send, first, body)
                await created.wait()
                for message in mine[1:]:
                    await in_flight.acquire_on_behalf_of(message)
                    if thread not in thread_ids:
                        message.error = "no thread"
                        in_flight.release_on_behalf_of(message)
                        continue
                    body = chatkit_body(
                        "threads.add_user_message",
                        thread_id=thread_ids[thread],
                        input=user_input(message.text),
                    )
                    nursery.start_soon(send, message, body)
                    await trio.sleep(plan.pipeline_gap)  # keep arrival order = send order

    started = time.perf_counter()
    async with trio.open_nursery() as nursery:
        for thread in range(plan.threads):
            nursery.start_soon(converse, thread)
    finished = time.perf_counter()
    return LoadResult(plan, started, finished, results, thread_ids)


@attrs.define
class VerifyResult:
    """What the store holds compared with what was sent, from outside (``items.list``)."""

    threads_checked: int = 0
    sent: int = 0
    acked: int = 0
    persisted: int = 0  # distinct sent user messages found
    lost: int = 0  # acknowledged but not found
    duplicated: int = 0  # extra copies of a user message
    out_of_order: int = 0  # threads whose user messages are not in send order
    wrong_answers: int = 0  # an answer that is not the one for the message before it
    incomplete_answers: int = 0  # a persisted user message with no (or a partial) answer

    def as_dict(self) -> dict[str, int]:
        return attrs.asdict(self)


async def list_items(client: httpx.AsyncClient, user: str, thread_id: str) -> list[dict[str, Any]]:
    """Every item of a thread, oldest first, across pages."""
    items: list[dict[str, Any]] = []
    after: str | None = None
    while True:
        params: dict[str, Any] = {"thread_id": thread_id, "order": "asc", "limit": 100}
        if after is not None:
            params["after"] = after
        response = await client.post(
            "/chatkit",
            content=chatkit_body("items.list", **params),
            headers={"X-User-ID": user, "Content-Type": "application/json"},
        )
        response.raise_for_status()
        page = response.json()
        items.extend(page["data"])
        if not page.get("has_more"):
            return items
        after = page["after"]


def item_text(item: dict[str, Any]) -> str:
    return "".join(part.get("text", "") for part in item.get("content", []))


async def verify(
    base_url: str,
    result: LoadResult,
    *,
    full_answer: Callable[[str], str] | None = None,
    concurrency: int = 20,
) -> VerifyResult:
    """Check each thread's stored items against what was sent and acknowledged.

    ``full_answer(text)`` gives the complete answer to ``text``; without it an answer only has
    to start with ``answer to: <text>``.
    """
    plan = result.plan
    outcome = VerifyResult()
    by_thread: dict[int, list[MessageResult]] = {}
    for message in result.messages:
        by_thread.setdefault(message.thread, []).append(message)
        outcome.sent += 1
        outcome.acked += message.acked
    limiter = trio.CapacityLimiter(concurrency)

    async def check(thread: int, client: httpx.AsyncClient) -> None:
        async with limiter:
            thread_id = result.thread_ids.get(thread)
            messages = by_thread[thread]
            if thread_id is None:
                outcome.lost += sum(m.acked for m in messages)
                return
            items = await list_items(client, plan.user(thread), thread_id)
        outcome.threads_checked += 1
        check_thread(messages, items, outcome, full_answer)

    timeout = httpx.Timeout(60, connect=30)
    async with (
        httpx.AsyncClient(base_url=base_url, timeout=timeout) as client,
        trio.open_nursery() as nursery,
    ):
        for thread in by_thread:
            nursery.start_soon(check, thread, client)
    return outcome


def check_thread(
    messages: list[MessageResult],
    items: list[dict[str, Any]],
    outcome: VerifyResult,
    full_answer: Callable[[str], str] | None = None,
) -> None:
    """Compare one thread's items with the messages sent on it (in send order)."""
    sent_order = [m.text for m in messages]
    sent = set(sent_order)
    seen: list[str] = []
    for position, item in enumerate(items):
        if item.get("type") != "user_message":
            continue
        text = item_text(item)
        if text not in sent:
            continue
        seen.append(text)
        answer = next(
            (
                i
                for i in items[position + 1 :]
                if i.get("type") in ("assistant_message", "user_message")
            ),
            None,
        )
        if answer is None or answer.get("type") != "assistant_message":
            outcome.incomplete_answers += 1
            continue
        answer_text = item_text(answer)
        if not answer_text.startswith(f"answer to: {text}"):
            outcome.wrong_answers += 1
        elif full_answer is not None and answer_text != full_answer(text):
            outcome.incomplete_answers += 1
    counts: dict[str, int] = {}
    for text in seen:
        counts[text] = counts.get(text, 0) + 1
    outcome.persisted += len(counts)
    outcome.duplicated += sum(n - 1 for n in counts.values())
    outcome.lost += sum(1 for m in messages if m.acked and m.text not in counts)
    expected = [text for text in sent_order if text in counts]
    if list(dict.fromkeys(seen)) != expected:
        outcome.out_of_order += 1


def percentile(values: list[float], q: float) -> float:
    """The ``q``-th percentile (0-100) by nearest rank; NaN for no values."""
    if not values:
        return math.nan
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]

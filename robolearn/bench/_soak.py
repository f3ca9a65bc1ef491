"""Memory under attachments (``robolearn bench --soak``): does RSS come back after the load?

``users`` users each upload ``per_message`` attachments of ``attachment_bytes`` and send
``turns`` messages on one thread, every message listing all of them, all users at once. The
server's RSS is sampled before, during and after; after the load it must come back to about
where it started (a server that kept what users once sent would grow without end).
"""

from __future__ import annotations

import json
import os
from typing import Any

import attrs
import httpx
import trio

from ._load import SseParser, chatkit_body, user_input

__all__ = ["SoakPlan", "run_soak"]


@attrs.frozen(kw_only=True)
class SoakPlan:
    users: int = 20
    turns: int = 10
    per_message: int = 4
    attachment_bytes: int = 10_000_000


@attrs.define
class SoakResult:
    answered: int = 0
    failures: list[str] = attrs.Factory(list)


async def run_soak(base_url: str, plan: SoakPlan) -> SoakResult:
    """Run ``plan`` against the server at ``base_url`` (every user at once)."""
    result = SoakResult()

    async def user(n: int) -> None:
        headers = {"X-User-ID": f"soak-{n}", "Content-Type": "application/json"}
        timeout = httpx.Timeout(300, connect=30)
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout) as client:
            try:
                ids = [
                    await _upload(client, headers, f"soak-{n}-{k}.png", plan.attachment_bytes)
                    for k in range(plan.per_message)
                ]
                thread_id: str | None = None
                for turn in range(plan.turns):
                    text = f"soak {n} turn {turn}: what do these show?"
                    body = (
                        chatkit_body("threads.create", input=user_input(text, ids))
                        if thread_id is None
                        else chatkit_body(
                            "threads.add_user_message",
                            thread_id=thread_id,
                            input=user_input(text, ids),
                        )
                    )
                    thread_id = await _ask(client, headers, body, thread_id)
                    result.answered += 1
            except (httpx.HTTPError, ValueError) as exc:
                result.failures.append(f"user {n}: {exc!r}"[:300])

    async with trio.open_nursery() as nursery:
        for n in range(plan.users):
            nursery.start_soon(user, n)
    return result


_PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


async def _upload(client: httpx.AsyncClient, headers: dict[str, str], name: str, size: int) -> str:
    created = await client.post(
        "/chatkit",
        content=chatkit_body("attachments.create", name=name, size=size, mime_type="image/png"),
        headers=headers,
    )
    created.raise_for_status()
    attachment: dict[str, Any] = created.json()
    url = attachment["upload_descriptor"]["url"]
    # A PNG's signature, then noise: the server checks that an image upload is one.
    content = _PNG_SIGNATURE + os.urandom(size - len(_PNG_SIGNATURE))
    uploaded = await client.put(url, content=content, headers={"X-User-ID": headers["X-User-ID"]})
    uploaded.raise_for_status()
    return str(attachment["id"])


async def _ask(
    client: httpx.AsyncClient, headers: dict[str, str], body: bytes, thread_id: str | None
) -> str:
    parser = SseParser()
    answered = False
    async with client.stream("POST", "/chatkit", content=body, headers=headers) as response:
        if response.status_code != 200:
            raise ValueError(f"HTTP {response.status_code}: {(await response.aread())[:200]!r}")
        async for chunk in response.aiter_raw():
            for payload in parser.feed(chunk):
                event = json.loads(payload)
                if event["type"] == "thread.created":
                    thread_id = event["thread"]["id"]
                elif event["type"] == "error":
                    raise ValueError(f"error event: {event.get('message')}")
                elif (
                    event["type"] == "thread.item.done"
                    and event["item"]["type"] == "assistant_message"
                ):
                    answered = True
    if thread_id is None or not answered:
        raise ValueError("the stream ended without an answer")
    return thread_id

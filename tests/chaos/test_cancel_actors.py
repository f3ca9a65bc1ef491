"""Cancel random thread actors mid-stream while 100 threads x 5 messages run, 50 at a time.

Afterwards: every user message persisted exactly once and in send order (clients resend
every message not acknowledged, blindly), interrupted answers persisted as partial answers,
every interrupted stream ended with a retryable ``error`` event or a 503, and the next
message on every thread works.
"""

from __future__ import annotations

import functools
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

from .conftest import ServerFactory, admin_cancel, full_answer, quiescent, report, wait_for

pytestmark = [pytest.mark.chaos, pytest.mark.slow]

THREADS, MESSAGES, CONCURRENCY, TOKENS = 100, 5, 50, 20


async def test_cancel_random_actors_mid_stream(start_server: ServerFactory) -> None:
    server = start_server(tokens=TOKENS, delay_ms=15)
    rng = random.Random(8)
    thread_ids: dict[int, str] = {}
    # Every attempt, per (thread, message): a message interrupted before it was acknowledged
    # is sent again, as a client would on a 503 or an error event that allows retry. The
    # server acknowledges every message it stored, so a blind retry must never duplicate.
    attempts: dict[tuple[int, int], list[MessageResult]] = {}
    current: dict[int, MessageResult] = {}
    cancelled: set[int] = set()  # ids of MessageResult objects a cancel was aimed at
    counts = {"cancels_sent": 0, "cancels_hit": 0, "retries": 0}
    active = trio.CapacityLimiter(CONCURRENCY)

    def text(t: int, k: int) -> str:
        return f"c-t{t}-m{k}"

    def user(t: int) -> str:
        return f"chaos-{t}"

    async def converse(t: int, client: httpx.AsyncClient) -> None:
        async with active:
            for k in range(MESSAGES):
                for _attempt in range(5):
                    result = MessageResult(thread=t, index=k, text=text(t, k))
                    attempts.setdefault((t, k), []).append(result)
                    if t in thread_ids:
                        body = chatkit_body(
                            "threads.add_user_message",
                            thread_id=thread_ids[t],
                            input=user_input(result.text),
                        )
                    else:
                        body = chatkit_body("threads.create", input=user_input(result.text))
                    current[t] = result
                    await stream_message(
                        client, user(t), body, result,
                        functools.partial(thread_ids.__setitem__, t),
                        collect=True,
                    )  # fmt: skip
                    del current[t]
                    if result.acked:
                        break
                    counts["retries"] += 1

    async def canceller(client: httpx.AsyncClient, done: trio.Event) -> None:
        while not done.is_set():
            await trio.sleep(rng.uniform(0.01, 0.06))
            # Mostly mid-stream (acknowledged, some text out, not finished); one in four at
            # any moment, such as between storing a message and acknowledging it.
            anywhere = rng.random() < 0.25
            streaming = [
                (t, r)
                for t, r in current.items()
                if t in thread_ids
                and (anywhere or (r.acked and r.deltas > 1 and r.answer is None and not r.error))
            ]
            if not streaming:
                continue
            t, r = rng.choice(streaming)
            counts["cancels_sent"] += 1
            cancelled.add(id(r))
            if await admin_cancel(client, user(t), thread_ids[t]):
                counts["cancels_hit"] += 1

    limits = httpx.Limits(max_connections=CONCURRENCY + 10)
    async with httpx.AsyncClient(base_url=server.base_url, timeout=60, limits=limits) as client:
        with trio.fail_after(150):
            done = trio.Event()
            async with trio.open_nursery() as nursery:
                nursery.start_soon(canceller, client, done)
                async with trio.open_nursery() as talkers:
                    for t in range(THREADS):
                        talkers.start_soon(converse, t, client)
                done.set()
        await wait_for(lambda: quiescent(server.base_url), 20, what="no turn running")

        # What the store holds, thread by thread.
        finals = {key: runs[-1] for key, runs in attempts.items()}
        interrupted = [r for runs in attempts.values() for r in runs if r.error is not None]
        # A cancel that lands before a turn stored anything is answered 503 "interrupted"
        # with Retry-After instead of an error event, and the message is sent again above.
        refused = [r for r in interrupted if r.status == 503 and not r.acked]
        bad_errors = [
            r
            for r in interrupted
            if r not in refused
            and (r.error_event is None or r.error_event.get("allow_retry") is not True)
        ]
        persisted = duplicated = lost = out_of_order = 0
        partial = complete = missing_partial = wrong_partial = cut_before_text = 0
        missing: list[tuple[int, int, str | None, int]] = []
        for t in range(THREADS):
            assert t in thread_ids, f"thread {t} was never created"
            items = await list_items(client, user(t), thread_ids[t])
            visible = [i for i in items if i["type"] in ("user_message", "assistant_message")]
            asked = [item_text(i) for i in visible if i["type"] == "user_message"]
            persisted += len(set(asked))
            duplicated += len(asked) - len(set(asked))
            lost += sum(1 for k in range(MESSAGES) if text(t, k) not in asked)
            out_of_order += asked != [text(t, k) for k in range(MESSAGES) if text(t, k) in asked]
            for n, item in enumerate(visible):
                if item["type"] != "user_message":
                    continue
                asked_text = item_text(item)
                k = int(asked_text.rsplit("-m", 1)[1])
                after = visible[n + 1] if n + 1 < len(visible) else None
                answer = (
                    item_text(after) if after and after["type"] == "assistant_message" else None
                )
                final = finals[(t, k)]
                expected = full_answer(asked_text, TOKENS)
                if final.error is None:
                    complete += answer == expected
                    assert answer == expected, (t, k, answer)
                elif answer is None and not final.seen:
                    # Cut before any text: nothing to keep. Under load a cancel aimed at a
                    # stream in mid-answer can land after it ended, on the next message.
                    cut_before_text += 1
                elif answer is None:
                    missing_partial += 1
                    missing.append((t, k, final.error, len(final.seen)))
                elif expected.startswith(answer) and answer.startswith(final.seen):
                    partial += answer != expected
                    complete += answer == expected
                else:
                    wrong_partial += 1

        # The next message on every thread works.
        next_ok = 0

        async def follow_up(t: int) -> None:
            nonlocal next_ok
            async with active:
                result = MessageResult(thread=t, index=MESSAGES, text=f"c-t{t}-next")
                body = chatkit_body(
                    "threads.add_user_message",
                    thread_id=thread_ids[t],
                    input=user_input(result.text),
                )
                await stream_message(client, user(t), body, result)
                next_ok += result.answer == full_answer(result.text, TOKENS)

        with trio.fail_after(60):
            async with trio.open_nursery() as nursery:
                for t in range(THREADS):
                    nursery.start_soon(follow_up, t)

    sent = sum(len(runs) for runs in attempts.values())
    counts.update(
        threads=THREADS,
        messages=THREADS * MESSAGES,
        requests_sent=sent,
        acknowledged=sum(r.acked for runs in attempts.values() for r in runs),
        interrupted_streams=len(interrupted),
        interrupted_without_retryable_error_event=len(bad_errors),
        refused_before_first_event=len(refused),
        persisted=persisted,
        duplicated=duplicated,
        lost=lost,
        threads_out_of_order=out_of_order,
        partial_answers_persisted=partial,
        complete_answers=complete,
        interrupted_without_persisted_partial=missing_partial,
        interrupted_before_any_text=cut_before_text,
        partial_not_matching_stream=wrong_partial,
        next_message_ok=next_ok,
    )
    report("cancel", counts)
    assert counts["cancels_hit"] >= 20, "too few cancellations landed to prove anything"
    assert not bad_errors, [r.error for r in bad_errors[:5]]
    assert persisted == THREADS * MESSAGES
    assert duplicated == lost == out_of_order == 0
    assert wrong_partial == 0 and missing_partial == 0, missing
    assert partial > 0
    assert next_ok == THREADS

"""Rate limits, stream caps, size limits, metrics and readiness, through the HTTP stack."""

from __future__ import annotations

import pytest
import trio
from prometheus_client.parser import text_string_to_metric_families

from robolearn.config import Settings
from robolearn.http._ratelimit import RateLimited, StreamSlots, TokenBucketLimiter, TooManyStreams
from robolearn.services import Services

from ._models import RecordingModel
from .conftest import ChatKit, post_and_hang_up, quiescent, user_input, wait_until


async def test_token_bucket_exhausts_and_recovers(autojump_clock: trio.testing.MockClock) -> None:
    limiter = TokenBucketLimiter(per_minute=3)
    for _ in range(3):
        await limiter.acquire("alice")
    with pytest.raises(RateLimited) as refused:
        await limiter.acquire("alice")
    assert refused.value.retry_after == pytest.approx(20, abs=0.01)
    await limiter.acquire("bob")  # budgets are per user
    await trio.sleep(19)
    with pytest.raises(RateLimited):
        await limiter.acquire("alice")
    await trio.sleep(1.01)
    await limiter.acquire("alice")  # one token back after 20 s
    await trio.sleep(600)
    for _ in range(3):  # a full burst after a long pause, not more
        await limiter.acquire("alice")
    with pytest.raises(RateLimited):
        await limiter.acquire("alice")


def test_stream_slots_cap_per_user_and_total() -> None:
    slots = StreamSlots(per_user=2, total=3)
    slots.acquire("a")
    slots.acquire("a")
    with pytest.raises(TooManyStreams, match="one user"):
        slots.acquire("a")
    slots.acquire("b")
    with pytest.raises(TooManyStreams, match="server"):
        slots.acquire("c")
    slots.release("a")
    slots.acquire("c")
    assert slots.active == 3


@pytest.fixture
def autojump_clock() -> trio.testing.MockClock:
    return trio.testing.MockClock(autojump_threshold=0)


class TestLimitedServer:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(
            database_url=database_url,
            auth="dev",
            rate_limit_per_minute=4,
            max_streams_per_user=1,
            max_message_chars=20,
            on_disconnect="finish",
        )

    @pytest.fixture
    def model(self) -> RecordingModel:
        return RecordingModel(tokens=30, delay=0.01)

    async def test_rate_limit_is_429_with_retry_after(self, alice: ChatKit, bob: ChatKit) -> None:
        statuses = [(await alice.call("threads.list")).status_code for _ in range(4)]
        assert statuses == [200] * 4
        refused = await alice.call("threads.list")
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "rate_limited"
        assert 1 <= int(refused.headers["Retry-After"]) <= 15
        retry = refused.headers["Retry-After"]
        assert refused.json()["error"]["message"].endswith(f"retry in {retry} s")
        assert (await bob.call("threads.list")).status_code == 200
        metrics = (await alice.http.get("/metrics")).text
        assert 'robolearn_rate_limited_total{process="main",reason="rate_limited"} 1.0' in metrics

    async def test_one_stream_at_a_time_per_user(self, alice: ChatKit, bob: ChatKit) -> None:
        results: list[int] = []

        async def ask(client: ChatKit, text: str) -> None:
            response = await client.call("threads.create", input=user_input(text))
            results.append(response.status_code)
            if response.status_code == 429:
                assert response.json()["error"]["code"] == "too_many_streams"

        async with trio.open_nursery() as nursery:
            nursery.start_soon(ask, alice, "first")
            await trio.sleep(0.1)
            nursery.start_soon(ask, alice, "second")
            nursery.start_soon(ask, bob, "bob's")
        assert sorted(results) == [200, 200, 429]

    async def test_a_turn_holds_its_stream_slot_after_its_client_left(
        self, alice: ChatKit, services: Services, model: RecordingModel
    ) -> None:
        # Under `finish` an answer goes on without its client; its slot must go on with it.
        model.delay = 0.05  # a 1.5 s answer
        body = {"type": "threads.create", "params": {"input": user_input("first")}}
        await post_and_hang_up(alice, body, until=b"text_delta")
        refused = await alice.call("threads.create", input=user_input("second"))
        assert refused.status_code == 429
        assert refused.json()["error"]["code"] == "too_many_streams"
        await wait_until(lambda: quiescent(services))
        model.delay = 0.0
        assert (await alice.call("threads.create", input=user_input("third"))).status_code == 200

    async def test_long_message_is_refused(self, alice: ChatKit) -> None:
        response = await alice.call("threads.create", input=user_input("x" * 21))
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "message_too_long"
        # The quoted text goes to the model too: it counts.
        quoting = {**user_input("x" * 10), "quoted_text": "q" * 11}
        response = await alice.call("threads.create", input=quoting)
        assert response.status_code == 400
        assert response.json()["error"]["code"] == "message_too_long"


def _sample(metrics: str, name: str, **labels: str) -> float:
    """Sample ``name`` with exactly ``labels``, and the label naming this (single) process."""
    wanted = {**labels, "process": "main"}
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if sample.name == name and sample.labels == wanted:
                return float(sample.value)
    raise AssertionError(f"{name}{wanted} missing")


async def test_metrics_follow_a_conversation(alice: ChatKit) -> None:
    before = (await alice.http.get("/metrics")).text
    assert 'robolearn_active_streams{process="main"} 0.0' in before
    events = await alice.stream("threads.create", input=user_input("hello"))
    await alice.call("items.list", thread_id=events[0]["thread"]["id"])
    response = await alice.http.get("/metrics")
    assert response.headers["content-type"].startswith("text/plain")
    metrics = response.text
    assert _sample(metrics, "robolearn_requests_total", status="200", type="threads.create") == 1
    assert _sample(metrics, "robolearn_requests_total", status="200", type="items.list") == 1
    assert (
        _sample(metrics, "robolearn_stream_first_event_seconds_count", type="threads.create") == 1
    )
    assert _sample(metrics, "robolearn_stream_seconds_count", type="threads.create") == 1
    assert _sample(metrics, "robolearn_agent_run_seconds_count") == 1
    assert _sample(metrics, "robolearn_actors_messages_processed") == 1
    assert _sample(metrics, "robolearn_actors_live_actors") == 1
    assert _sample(metrics, "robolearn_db_pool_pool_size") >= 1
    assert 'robolearn_active_streams{process="main"} 0.0' in metrics


async def test_readyz_reports_each_check(alice: ChatKit) -> None:
    body = (await alice.http.get("/readyz")).json()
    assert body == {
        "status": "ready",
        "checks": {"database": "ok", "migrations": "ok", "actors": "ok", "index": "ok"},
    }

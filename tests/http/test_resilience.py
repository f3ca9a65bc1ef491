"""The database going away and coming back; the model failing mid-answer."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
import trio
from agents.items import TResponseInputItem

from robolearn.chat import TextStreamModel
from robolearn.config import Settings
from robolearn.services import Services
from robolearn.store import EmbeddedPostgres

from .conftest import ChatKit, user_input, wait_until


class FailingModel(TextStreamModel):
    """Streams a little, then fails like a provider outage."""

    async def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        yield "partial "
        raise RuntimeError("provider returned 503")


class TestModelFailure:
    @pytest.fixture
    def model(self) -> FailingModel:
        return FailingModel()

    async def test_provider_error_is_an_error_event_that_allows_retry(self, alice: ChatKit) -> None:
        events = await alice.stream("threads.create", input=user_input("hello"))
        errors = [event for event in events if event["type"] == "error"]
        assert len(errors) == 1
        assert errors[0]["allow_retry"] is True
        thread_id = events[0]["thread"]["id"]
        items = (await alice.call("items.list", thread_id=thread_id, order="asc")).json()["data"]
        assert items[0]["type"] == "user_message"  # the question is kept for the retry


class TestDatabaseOutage:
    @pytest.fixture
    def private_pg(self, tmp_path: Path) -> Iterator[Path]:
        yield tmp_path / "pg"
        EmbeddedPostgres.start(tmp_path / "pg").stop()

    @pytest.fixture
    def settings(self, private_pg: Path) -> Settings:
        server = EmbeddedPostgres.start(private_pg)
        return Settings(database_url=server.uri, auth="dev", db_timeout=0.5, db_pool_min=1)

    async def test_readiness_flips_and_recovers(
        self, http: httpx.AsyncClient, alice: ChatKit, private_pg: Path
    ) -> None:
        assert (await http.get("/readyz")).status_code == 200
        await trio.to_thread.run_sync(EmbeddedPostgres.start(private_pg).stop)

        async def not_ready() -> bool:
            return (await http.get("/readyz")).status_code == 503

        await wait_until(not_ready, seconds=10)
        readiness = (await http.get("/readyz")).json()
        # What is down, in our words: no host, socket path or driver message.
        assert readiness["checks"]["database"] == "unavailable"
        during = await alice.call("threads.list")
        assert during.status_code == 503
        assert during.json()["error"]["code"] == "database_unavailable"
        assert "Retry-After" in during.headers

        await trio.to_thread.run_sync(EmbeddedPostgres.start, private_pg)

        async def ready() -> bool:
            return (await http.get("/readyz")).status_code == 200

        await wait_until(ready, seconds=30)
        events = await alice.stream("threads.create", input=user_input("back again"))
        assert events[-1]["type"] == "thread.item.done"


class TestKnownOutage:
    """With the outage known, no request waits for the pool (3 s here), and service returns
    by itself soon after the database does."""

    @pytest.fixture
    def private_pg(self, tmp_path: Path) -> Iterator[Path]:
        yield tmp_path / "pg"
        EmbeddedPostgres.start(tmp_path / "pg").stop()

    @pytest.fixture
    def settings(self, private_pg: Path) -> Settings:
        server = EmbeddedPostgres.start(private_pg)
        return Settings(database_url=server.uri, auth="dev", db_timeout=3.0)

    @pytest.mark.slow
    async def test_requests_fail_fast_during_an_outage_and_service_returns(
        self, http: httpx.AsyncClient, alice: ChatKit, services: Services, private_pg: Path
    ) -> None:
        events = await alice.stream("threads.create", input=user_input("before"))
        thread_id = events[0]["thread"]["id"]
        await trio.to_thread.run_sync(EmbeddedPostgres.start(private_pg).stop)
        health = services.store.health
        assert health is not None

        # Whatever finds out first (here a readiness check) makes the outage known.
        assert (await http.get("/readyz")).status_code == 503
        await wait_until(lambda: health.down)
        slowest = 0.0
        for request in (
            lambda: alice.call("threads.list"),
            lambda: alice.call("items.list", thread_id=thread_id),
            lambda: alice.call("threads.create", input=user_input("during")),
            lambda: alice.call(
                "threads.add_user_message", thread_id=thread_id, input=user_input("during")
            ),
            lambda: http.get("/readyz"),
        ):
            started = trio.current_time()
            with trio.fail_after(1):
                response = await request()
            slowest = max(slowest, trio.current_time() - started)
            assert response.status_code == 503, response.text
            if response.request.url.path == "/chatkit":
                assert response.json()["error"]["code"] == "database_unavailable"
                assert "Retry-After" in response.headers
        assert (await http.get("/readyz")).json()["checks"]["database"] == "unavailable"
        metrics = (await http.get("/metrics")).text
        assert 'robolearn_database_up{process="main"} 0.0' in metrics
        assert 'robolearn_database_outages_total{process="main"} 1.0' in metrics

        await trio.to_thread.run_sync(EmbeddedPostgres.start, private_pg)
        back = trio.current_time()

        async def served() -> bool:
            return (await alice.call("threads.list")).status_code == 200

        await wait_until(served, seconds=2)
        healed = trio.current_time() - back
        print(
            f"\n503 within {slowest * 1000:.0f} ms during the outage; served {healed:.2f} s after"
        )
        events = await alice.stream(
            "threads.add_user_message", thread_id=thread_id, input=user_input("after")
        )
        assert events[-1]["type"] == "thread.item.done"

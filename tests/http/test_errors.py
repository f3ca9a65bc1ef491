"""Bad input gets a 4xx JSON answer naming the problem; never a 500."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

import httpx
import pytest
import trio

from robolearn.config import Settings
from robolearn.services import Services

from ._models import RecordingModel
from .conftest import ChatKit, user_input, wait_until

ALICE = {"X-User-ID": "alice"}


def _req(type_: str, **params: Any) -> bytes:
    return json.dumps({"type": type_, "params": params}).encode()


CASES: list[tuple[str, bytes, dict[str, str], int, str]] = [
    ("not json", b"{nope", ALICE, 400, "invalid_request"),
    ("empty body", b"", ALICE, 400, "invalid_request"),
    ("json array", b"[]", ALICE, 400, "invalid_request"),
    ("no type", b'{"params": {}}', ALICE, 400, "invalid_request"),
    ("unknown type", _req("threads.explode"), ALICE, 400, "invalid_request"),
    ("missing params", b'{"type": "items.list"}', ALICE, 400, "invalid_request"),
    ("wrong field type", _req("threads.list", limit="ten"), ALICE, 400, "invalid_request"),
    ("bad order", _req("threads.list", order="sideways"), ALICE, 400, "invalid_request"),
    ("negative limit", _req("threads.list", limit=-5), ALICE, 400, "invalid_request"),
    ("input not an object", _req("threads.create", input="hi"), ALICE, 400, "invalid_request"),
    ("unknown thread", _req("items.list", thread_id="thr_nope"), ALICE, 404, "not_found"),
    (
        "unknown thread get",
        _req("threads.get_by_id", thread_id="thr_nope"),
        ALICE,
        404,
        "not_found",
    ),
    (
        "message to unknown thread",
        _req("threads.add_user_message", thread_id="thr_nope", input=user_input("x")),
        ALICE,
        404,
        "not_found",
    ),
    (
        "malformed thread id",
        _req("items.list", thread_id="../etc/passwd"),
        ALICE,
        400,
        "invalid_request",
    ),
    (
        "huge thread id",
        _req("threads.get_by_id", thread_id="x" * 5000),
        ALICE,
        400,
        "invalid_request",
    ),
    (
        "page context of the wrong type",
        json.dumps(
            {"type": "threads.list", "params": {}, "metadata": {"pageContext": "x"}}
        ).encode(),
        ALICE,
        400,
        "invalid_request",
    ),
    (
        "oversized metadata",
        json.dumps(
            {
                "type": "threads.list",
                "params": {},
                "metadata": {"pageContext": {"description": "x" * 20000}},
            }
        ).encode(),
        ALICE,
        400,
        "invalid_request",
    ),
    ("no user", _req("threads.list"), {}, 401, "unauthenticated"),
    ("bad user id", _req("threads.list"), {"X-User-ID": "a b/c"}, 401, "unauthenticated"),
    (
        "unknown attachment",
        _req("threads.create", input=user_input("x", ["atc_nope"])),
        ALICE,
        404,
        "not_found",
    ),
    (
        "too many attachments",
        _req("threads.create", input=user_input("x", [f"atc_{n}" for n in range(9)])),
        ALICE,
        400,
        "too_many_attachments",
    ),
    (
        "retry on unknown item",
        b"",  # filled in by the test: needs a real thread
        ALICE,
        404,
        "not_found",
    ),
]


@pytest.mark.parametrize(
    ("name", "body", "headers", "status", "code"), CASES, ids=[c[0] for c in CASES]
)
async def test_malformed_requests(
    http: httpx.AsyncClient,
    alice: ChatKit,
    caplog: pytest.LogCaptureFixture,
    name: str,
    body: bytes,
    headers: dict[str, str],
    status: int,
    code: str,
) -> None:
    if name == "retry on unknown item":
        events = await alice.stream("threads.create", input=user_input("hi"))
        body = _req(
            "threads.retry_after_item", thread_id=events[0]["thread"]["id"], item_id="msg_nope"
        )
    with caplog.at_level(logging.WARNING):
        response = await http.post(
            "/chatkit", content=body, headers={"Content-Type": "application/json", **headers}
        )
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/json"
    error = response.json()["error"]
    assert error["code"] == code
    assert error["message"]
    assert "Traceback" not in caplog.text


# The server refuses before reading the body; httpx then drops its unfinished upload generator.
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
async def test_oversized_body_is_413(http: httpx.AsyncClient) -> None:
    body = b'{"type": "threads.list", "params": {}, "x": "' + b"a" * 2_000_000 + b'"}'
    response = await http.post(
        "/chatkit", content=body, headers={"Content-Type": "application/json", **ALICE}
    )
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"


async def test_refused_requests_leave_keep_alive_connections_usable(
    http: httpx.AsyncClient,
) -> None:
    for _ in range(3):  # one client: the same keep-alive connection each time
        response = await http.post("/chatkit", content=b"{", headers={"X-User-ID": ""})
        assert response.status_code == 401
    assert (await http.get("/healthz")).status_code == 200


async def test_unsupported_request_types_are_501(alice: ChatKit) -> None:
    events = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = events[0]["thread"]["id"]
    action = {"type": "noop", "payload": {}}
    for kind in ("threads.sync_custom_action", "threads.custom_action"):
        # The streamed one too: before any stream opens, not as an error event after it.
        response = await alice.call(kind, thread_id=thread_id, item_id=None, action=action)
        assert response.status_code == 501
        assert response.json()["error"]["code"] == "not_implemented"
    response = await alice.call("input.transcribe", audio_base64="AAAA", mime_type="audio/webm")
    assert response.status_code == 501


async def test_wrong_method_and_route_are_json(http: httpx.AsyncClient) -> None:
    response = await http.get("/chatkit")
    assert response.status_code == 405
    assert response.json()["error"]["code"] == "method_not_allowed"
    assert response.headers["Allow"] == "POST"
    response = await http.post("/healthz")
    assert response.status_code == 405
    assert set(response.headers["Allow"].split(", ")) == {"GET", "HEAD", "OPTIONS"}
    response = await http.get("/nope")
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


async def test_every_request_on_a_foreign_thread_is_not_found(alice: ChatKit, bob: ChatKit) -> None:
    events = await alice.stream("threads.create", input=user_input("private"))
    thread_id = events[0]["thread"]["id"]
    user_item = events[1]["item"]["id"]
    attempts = [
        ("threads.get_by_id", {"thread_id": thread_id}),
        ("items.list", {"thread_id": thread_id}),
        ("threads.update", {"thread_id": thread_id, "title": "mine now"}),
        ("threads.delete", {"thread_id": thread_id}),
        ("threads.add_user_message", {"thread_id": thread_id, "input": user_input("hi")}),
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": user_item}),
        ("items.feedback", {"thread_id": thread_id, "item_ids": [user_item], "kind": "positive"}),
    ]
    for type_, params in attempts:
        response = await bob.call(type_, **params)
        assert response.status_code == 404, (type_, response.text)
        assert response.json()["error"]["code"] == "not_found"
    assert (await bob.call("threads.list")).json()["data"] == []
    # Alice's thread is untouched.
    thread = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert thread["title"] == "private"
    assert len(thread["items"]["data"]) == 2


class TestBusyThread:
    @pytest.fixture
    def settings(self, database_url: str) -> Settings:
        return Settings(database_url=database_url, auth="dev", mailbox_capacity=1)

    @pytest.fixture
    def model(self) -> RecordingModel:
        return RecordingModel(tokens=50, delay=0.01)

    async def test_full_mailbox_is_429_with_retry_after(
        self, alice: ChatKit, services: Services
    ) -> None:
        events = await alice.stream("threads.create", input=user_input("hi"))
        thread_id = events[0]["thread"]["id"]
        statuses: list[httpx.Response] = []

        async def send(n: int) -> None:
            statuses.append(
                await alice.call(
                    "threads.add_user_message", thread_id=thread_id, input=user_input(f"m{n}")
                )
            )

        def arrived(count: int) -> bool:
            stats = services.actors.statistics()
            return stats.messages_accepted + stats.messages_rejected >= count

        async with trio.open_nursery() as nursery:
            stats = services.actors.statistics()
            seen = stats.messages_accepted + stats.messages_rejected
            for n in range(4):
                # One after the other reaches the mailbox: the first runs, the second waits,
                # the mailbox (capacity 1) is full for the last two.
                nursery.start_soon(send, n)
                await wait_until(partial(arrived, seen + n + 1))
        codes = sorted(r.status_code for r in statuses)
        assert codes == [200, 200, 429, 429]
        busy = next(r for r in statuses if r.status_code == 429)
        assert int(busy.headers["Retry-After"]) >= 1
        error = busy.json()["error"]
        assert error["code"] == "thread_busy"
        # Says when to come back, in the header's words; names no internal key.
        assert f"retry in {busy.headers['Retry-After']} s" in error["message"]
        assert "actor" not in error["message"] and "thr_" not in error["message"]


async def test_requests_that_do_not_fit_the_thread_are_400_and_log_no_error(
    alice: ChatKit, caplog: pytest.LogCaptureFixture
) -> None:
    events = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = events[0]["thread"]["id"]
    answer_id = events[-1]["item"]["id"]
    mistakes = [
        ("threads.retry_after_item", {"thread_id": thread_id, "item_id": answer_id}),
        ("threads.add_structured_input", {"thread_id": thread_id, "item_id": answer_id}),
        ("threads.add_client_tool_output", {"thread_id": thread_id, "result": 1}),
    ]
    with caplog.at_level(logging.INFO):
        for kind, params in mistakes:
            if kind == "threads.add_structured_input":
                params = {**params, "input": {"status": "answered", "answers": {}}}
            response = await alice.call(kind, **params)
            assert response.status_code == 400, (kind, response.text)
            assert response.json()["error"]["code"] == "invalid_request"
        deleted = await alice.call("attachments.delete", attachment_id="atc_" + "0" * 32)
        assert deleted.status_code == 404
    assert not [r for r in caplog.records if r.levelno >= logging.ERROR or r.exc_info]
    assert "the client left" not in caplog.text  # refused: the client was told, not gone

"""Log lines are JSON and carry the request id, in actors and across the asyncio bridge."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from robolearn.obs import configure_logging
from robolearn.obs._logs import JsonFormatter, _ContextFilter

from .conftest import ChatKit, logging_to, user_input


@pytest.fixture
def log_lines() -> Iterator[io.StringIO]:
    out = io.StringIO()
    handler = logging.StreamHandler(out)
    handler.addFilter(_ContextFilter())
    handler.setFormatter(JsonFormatter())
    with logging_to(handler, logging.getLogger(), logging.INFO):
        yield out


async def test_request_lines_carry_request_and_thread_ids(
    alice: ChatKit, log_lines: io.StringIO
) -> None:
    alice.headers["X-Request-ID"] = "req-abc-123"
    response = await alice.http.post(
        "/chatkit",
        json={"type": "threads.create", "params": {"input": user_input("secret question")}},
        headers=alice.headers,
    )
    assert response.headers["X-Request-ID"] == "req-abc-123"
    thread_id = json.loads(response.text.split("\n\n")[0][6:])["thread"]["id"]

    entries = [json.loads(line) for line in log_lines.getvalue().splitlines()]
    mine = [e for e in entries if e.get("request_id") == "req-abc-123"]
    messages = [e["msg"] for e in mine]
    assert any(m.startswith("turn started") for m in messages)  # in the actor (trio)
    assert any(m.startswith("running the tutor") for m in messages)  # in the bridge (asyncio)
    assert all(
        e["thread_id"] == thread_id for e in mine if e["logger"].startswith("robolearn.chat")
    )
    assert "secret question" not in log_lines.getvalue()  # no message bodies by default


async def test_generated_request_id_is_echoed(alice: ChatKit) -> None:
    response = await alice.call("threads.list")
    assert len(response.headers["X-Request-ID"]) == 32
    alice.headers["X-Request-ID"] = "bad id with spaces"
    response = await alice.call("threads.list")
    assert response.headers["X-Request-ID"] != "bad id with spaces"


def test_configure_logging_writes_json(capsys: pytest.CaptureFixture[str]) -> None:
    root = logging.getLogger()
    saved = (list(root.handlers), root.level)
    try:
        configure_logging("INFO", "json")
        logging.getLogger("robolearn.test").info("hello %s", "world")
        err = capsys.readouterr().err.strip().splitlines()[-1]
        entry = json.loads(err)
        assert entry["msg"] == "hello world"
        assert entry["level"] == "info"
        assert entry["logger"] == "robolearn.test"
    finally:
        root.handlers[:] = saved[0]
        root.setLevel(saved[1])

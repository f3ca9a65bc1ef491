"""Text the database cannot hold is refused before anything is stored, and never logged."""

from __future__ import annotations

import logging

import httpx
import pytest

from .conftest import ChatKit, user_input

SECRET_TEXT = "my-secret-question"


@pytest.mark.parametrize(
    "raw",
    [
        f'"{SECRET_TEXT} \\u0000 nul"',
        f'"{SECRET_TEXT} \\ud800 alone"',
        f'"{SECRET_TEXT} \\udc00 alone"',
    ],
    ids=["NUL", "high surrogate alone", "low surrogate alone"],
)
async def test_invalid_text_is_400_and_nothing_is_stored(
    http: httpx.AsyncClient, alice: ChatKit, raw: str, caplog: pytest.LogCaptureFixture
) -> None:
    body = (
        '{"type": "threads.create", "params": {"input": {"content": [{"type": "input_text", '
        f'"text": {raw}}}], "attachments": [], "inference_options": {{}}}}}}}}'
    )
    with caplog.at_level(logging.DEBUG):
        response = await http.post(
            "/chatkit",
            content=body.encode(),
            headers={**alice.headers, "Content-Type": "application/json"},
        )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["code"] in ("invalid_text", "invalid_request")
    assert (await alice.call("threads.list")).json()["data"] == []
    assert SECRET_TEXT not in caplog.text


async def test_a_nul_in_a_title_or_metadata_is_refused(alice: ChatKit) -> None:
    events = await alice.stream("threads.create", input=user_input("hi"))
    thread_id = events[0]["thread"]["id"]
    renamed = await alice.call("threads.update", thread_id=thread_id, title="bad\x00title")
    assert renamed.status_code == 400
    assert renamed.json()["error"]["code"] == "invalid_text"
    response = await alice.http.post(
        "/chatkit",
        json={
            "type": "threads.add_user_message",
            "params": {"thread_id": thread_id, "input": user_input("fine")},
            "metadata": {"pageContext": {"title": "page\x00"}},
        },
        headers=alice.headers,
    )
    assert response.status_code == 400
    stored = (await alice.call("threads.get_by_id", thread_id=thread_id)).json()
    assert stored["title"] == "hi"
    assert len(stored["items"]["data"]) == 2


async def test_paired_surrogates_are_fine(alice: ChatKit) -> None:
    events = await alice.stream("threads.create", input=user_input("robots \U0001f916 ok"))
    assert events[-1]["item"]["content"][0]["text"].startswith("answer to: robots \U0001f916 ok")

"""The widget's situation in headless Chromium: a page on the textbook's site (another origin)
calls ``/chatkit`` with a bearer token and reads the answer as it streams in.

The book's pages come from a second server on two more loopback ports: ``127.0.0.1:B`` is
the allowed origin, ``127.0.0.1:C`` a page from anywhere else. Different ports are different
origins, so the browser applies CORS exactly as it does between two sites.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from functools import partial
from pathlib import Path
from typing import Any

import attrs
import httpx
import jwt
import pytest
import trio
from playwright.sync_api import ConsoleMessage, Page
from quart import Response
from quart_trio import QuartTrio

from robolearn.config import Settings
from robolearn.http import serve_app
from robolearn.serve import hypercorn_config

from .conftest import RunPage

pytestmark = pytest.mark.browser

SECRET = "k" * 40

# A lesson page of the book: its script calls the tutor as the ChatKit widget does (a POST
# with a bearer token and a JSON body), and reads the SSE answer with a stream reader.
LESSON_PAGE = """<!doctype html>
<html lang="en">
<head><meta charset="utf-8"><title>Lesson: ROS 2 nodes</title></head>
<body>
<h1>ROS 2 nodes</h1>
<script>
async function askTutor(api, token, text) {
  const response = await fetch(api, {
    method: "POST",
    headers: {
      "Authorization": `Bearer ${token}`,
      "Content-Type": "application/json",
      "X-Request-ID": "lesson-page-1",
    },
    body: JSON.stringify({
      type: "threads.create",
      params: {
        input: { content: [{ type: "input_text", text }], attachments: [], inference_options: {} },
      },
    }),
  });
  const reader = response.body.getReader();
  const decoder = new TextDecoder();
  const events = [];
  const eventsPerRead = [];
  let buffer = "";
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    buffer += decoder.decode(value, { stream: true });
    let end;
    let count = 0;
    while ((end = buffer.indexOf("\\n\\n")) >= 0) {
      const block = buffer.slice(0, end);
      buffer = buffer.slice(end + 2);
      if (block.startsWith("data: ")) {
        events.push(JSON.parse(block.slice("data: ".length)));
        count += 1;
      }
    }
    eventsPerRead.push(count);
  }
  return {
    status: response.status,
    requestId: response.headers.get("X-Request-ID"),
    events,
    eventsPerRead,
  };
}

async function tryTutor(api, token, text) {
  try {
    await askTutor(api, token, text);
    return "answered";
  } catch (error) {
    return `${error.name}: ${error.message}`;
  }
}
</script>
</body>
</html>
"""


@attrs.frozen
class BookSite:
    allowed: str  # the textbook's origin, in ROBOLEARN_CORS_ORIGINS
    elsewhere: str  # any other site


@pytest.fixture
async def book_site() -> AsyncIterator[BookSite]:
    app = QuartTrio("book")

    @app.get("/lesson")
    async def lesson() -> Response:
        return Response(LESSON_PAGE, content_type="text/html; charset=utf-8")

    config = hypercorn_config("127.0.0.1:0")
    config.bind = ["127.0.0.1:0", "127.0.0.1:0"]
    config.accesslog = None
    async with trio.open_nursery() as nursery:
        allowed, elsewhere = await nursery.start(
            partial(serve_app, app, config, shutdown_trigger=trio.sleep_forever)
        )
        yield BookSite(allowed, elsewhere)
        nursery.cancel_scope.cancel()


@pytest.fixture
async def settings(database_url: str, tmp_path: Path, book_site: BookSite) -> Settings:
    return Settings(
        database_url=database_url,
        data_dir=tmp_path,
        auth="jwt",
        jwt_secret=SECRET,
        cors_origins=(book_site.allowed,),
    )


def token(user: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "iat": now, "exp": now + 600}, SECRET, algorithm="HS256")


async def test_a_page_on_the_book_site_streams_an_answer(
    run_page: RunPage, http: httpx.AsyncClient, book_site: BookSite
) -> None:
    api = str(http.base_url.join("/chatkit"))
    result: dict[str, Any] = {}

    def scenario(page: Page) -> None:
        page.goto(f"{book_site.allowed}/lesson")
        result.update(
            page.evaluate(
                "([api, token]) => askTutor(api, token, 'a slow question about nodes')",
                [api, token("alice")],
            )
        )

    await run_page(scenario)
    assert result["status"] == 200
    assert result["requestId"] == "lesson-page-1"  # X-Request-ID is exposed to the page
    events = result["events"]
    assert events[0]["type"] == "thread.created"
    assert events[-1]["type"] == "thread.item.done"
    answer = events[-1]["item"]["content"][0]["text"]
    assert answer.startswith("answer to: a slow question about nodes")
    assert "Answer #1." in answer
    deltas = [
        event
        for event in events
        if event.get("update", {}).get("type") == "assistant_message.content_part.text_delta"
    ]
    assert len(deltas) > 3
    # Streamed: the model writes its pieces 0.2 s apart ("slow" in the question, see
    # LessonModel), and the page read them as they came, not as one body at the end.
    assert len([count for count in result["eventsPerRead"] if count]) > 3

    listed = await http.post(
        "/chatkit",
        json={"type": "threads.list", "params": {}},
        headers={"Authorization": f"Bearer {token('alice')}"},
    )
    assert [thread["id"] for thread in listed.json()["data"]] == [events[0]["thread"]["id"]]


async def test_a_page_from_another_origin_is_refused(
    run_page: RunPage, http: httpx.AsyncClient, book_site: BookSite
) -> None:
    api = str(http.base_url.join("/chatkit"))
    console: list[str] = []
    outcome: list[str] = []

    def scenario(page: Page) -> None:
        page.on("console", lambda message: console.append(message_text(message)))
        page.goto(f"{book_site.elsewhere}/lesson")
        outcome.append(
            page.evaluate(
                "([api, token]) => tryTutor(api, token, 'let me in')", [api, token("mallory")]
            )
        )

    await run_page(scenario)
    assert outcome == ["TypeError: Failed to fetch"]
    # Refused at the preflight: the request itself never reached the server.
    blocked = [line for line in console if "blocked by CORS policy" in line]
    assert blocked, console
    assert "preflight" in blocked[0]
    listed = await http.post(
        "/chatkit",
        json={"type": "threads.list", "params": {}},
        headers={"Authorization": f"Bearer {token('mallory')}"},
    )
    assert listed.json()["data"] == []


def message_text(message: ConsoleMessage) -> str:
    return f"{message.type}: {message.text}"

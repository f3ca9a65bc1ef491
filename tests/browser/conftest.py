"""Browser fixtures: the real app on a real Hypercorn (as in tests/http) and headless Chromium.

Playwright's API is asyncio; the tests run on trio. The tests drive the browser with
Playwright's *sync* API on a thread of its own (see :class:`BrowserThread`) while the trio
loop goes on serving HTTP. The browser is Debian's ``chromium``: no browser downloads
are possible here, so ``playwright install`` is never used.
"""

from __future__ import annotations

import asyncio
import os
import shutil
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from functools import partial
from pathlib import Path
from typing import Any

import httpx
import pytest
import trio
from agents.items import TResponseInputItem
from playwright.sync_api import (
    Browser,
    Page,
    Playwright,
    ViewportSize,
    expect,
    sync_playwright,
)

from robolearn import _aio
from robolearn.chat import TextStreamModel
from robolearn.chat._text_model import last_user_text
from tests.http.conftest import http, services, settings

__all__ = ["http", "services", "settings"]  # fixtures reused from tests/http

ARTIFACTS = Path(__file__).resolve().parents[2] / "artifacts" / "browser"
DESKTOP = ViewportSize(width=1280, height=800)
PHONE = ViewportSize(width=360, height=740)
CITATION_URL = "https://example.org/docs/x"
# How long any wait on the page may take before the test fails.
_WAIT_MS = 20_000

# Without the background-networking flags Chromium keeps calling home, and this closed
# network refuses those connections slowly enough to stall page loads.
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def find_chromium() -> str | None:
    """``$ROBOLEARN_CHROMIUM`` if set, else Debian's ``chromium``; None if not executable."""
    explicit = os.environ.get("ROBOLEARN_CHROMIUM")
    candidates = [explicit] if explicit else ["/usr/bin/chromium", shutil.which("chromium")]
    for candidate in candidates:
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    return None


class LessonModel(TextStreamModel):
    """Answers like the scripted model (``answer to: <text>``), then markdown with a citation.

    The user's text steers it: ``fail`` fails the first time after some text (so a retry
    succeeds), ``slow`` streams slowly enough to be stopped. Answers are numbered, so a retry
    visibly yields a new answer.
    """

    def __init__(self) -> None:
        self.answers = 0
        self._failed: set[str] = set()

    async def text_deltas(
        self, system_instructions: str | None, input: str | list[TResponseInputItem]
    ) -> AsyncIterator[str]:
        text = last_user_text(input)
        self.answers += 1
        number = self.answers
        yield f"answer to: {text}\n\n"
        if "fail" in text and text not in self._failed:
            self._failed.add(text)
            raise RuntimeError("the test model failed on purpose")
        pieces: Sequence[str] = (
            "The lesson covers:\n\n",
            "- **Nodes** are processes\n",
            "- Topics carry `messages`\n\n",
            "```python\nrclpy.init()\n```\n\n",
            f"See [Lesson]({CITATION_URL}) for *more*.",
            f"\n\nAnswer #{number}.",
        )
        for piece in pieces:
            if "slow" in text:
                await _aio.sleep(0.2)
            yield piece


@pytest.fixture
def model() -> LessonModel:
    return LessonModel()


Scenario = Callable[[Page], None]
RunPage = Callable[..., Awaitable[None]]


class BrowserThread:
    """One headless Chromium for the whole session, owned by one dedicated thread.

    A sync Playwright session must be used from the thread that started it, so every call
    goes through a one-thread executor. Tests get a fresh browser context each (own storage,
    own viewport), which isolates them as well as a new browser would, at a fraction of the
    start-up cost.
    """

    def __init__(self, chromium: str) -> None:
        self._executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="chromium")
        self._playwright: Playwright | None = None
        self._browser: Browser | None = None
        self.call(partial(self._start, chromium))

    def call(self, fn: Callable[[], None]) -> None:
        """Run ``fn`` on the browser's thread and wait for it (blocking)."""
        self._executor.submit(fn).result()

    def run_scenario(self, base_url: str, scenario: Scenario, viewport: ViewportSize) -> None:
        assert self._browser is not None
        page_errors: list[str] = []
        context = self._browser.new_context(base_url=base_url, viewport=viewport)
        try:
            # Failures must fail fast, not hang the suite for Playwright's default 30 s.
            context.set_default_timeout(_WAIT_MS)
            page = context.new_page()
            page.on("pageerror", lambda error: page_errors.append(str(error)))
            scenario(page)
        finally:
            context.close()
        assert not page_errors, f"JavaScript errors on the page: {page_errors}"

    def close(self) -> None:
        try:
            self.call(self._stop)
        finally:
            self._executor.shutdown()

    def _start(self, chromium: str) -> None:
        # trio-asyncio (the server's asyncio bridge) makes new asyncio loops its own kind,
        # which Playwright cannot run on. Its override is per thread: opt this thread out.
        asyncio.set_event_loop_policy(asyncio.DefaultEventLoopPolicy())
        # `expect` has its own default (5 s), which a loaded 2-core machine running the
        # suite in parallel exceeded; one bound for every wait.
        expect.set_options(timeout=_WAIT_MS)
        self._playwright = sync_playwright().start()
        self._browser = self._playwright.chromium.launch(
            executable_path=chromium, args=CHROMIUM_ARGS
        )

    def _stop(self) -> None:
        try:
            if self._browser is not None:
                self._browser.close()
        finally:
            if self._playwright is not None:
                self._playwright.stop()
            asyncio.set_event_loop_policy(None)


@pytest.fixture(scope="session")
def browser_thread() -> Iterator[BrowserThread]:
    chromium = find_chromium()
    if chromium is None:
        pytest.skip(
            "no Chromium: install Debian's `chromium` (.ci/run does) or set ROBOLEARN_CHROMIUM"
        )
    browser = BrowserThread(chromium)
    try:
        yield browser
    finally:
        browser.close()


@pytest.fixture
def run_page(browser_thread: BrowserThread, http: httpx.AsyncClient) -> RunPage:
    """``await run_page(scenario)`` runs ``scenario(page)`` in a fresh browser context."""
    base_url = str(http.base_url).rstrip("/")

    async def run(scenario: Scenario, *, viewport: ViewportSize = DESKTOP) -> None:
        # A worker thread waits for the browser's thread, so the trio loop keeps serving.
        await trio.to_thread.run_sync(
            partial(
                browser_thread.call,
                partial(browser_thread.run_scenario, base_url, scenario, viewport),
            )
        )

    return run


def screenshot(page: Page, name: str) -> Path:
    """Save a screenshot under artifacts/browser/ for people (and CI) to look at."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=False)
    return path


def open_chat(page: Page, query: str = "user=alice") -> None:
    page.goto(f"/?{query}")
    page.wait_for_selector("body[data-ready]")


def send(page: Page, text: str) -> None:
    box = page.get_by_role("textbox", name="Message", exact=True)
    box.fill(text)
    box.press("Enter")


def last_answer(page: Page) -> Any:
    """The newest assistant message, once it has finished streaming."""
    answer = page.locator(".message-assistant").last
    answer.and_(page.locator("[aria-busy=false]")).wait_for()
    return answer

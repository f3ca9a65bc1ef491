"""The built-in chat page in headless Chromium against a real server.

Each test is one user story, told with Playwright's sync API in a worker thread (see
conftest.py). Screenshots land in artifacts/browser/.
"""

from __future__ import annotations

import json
import re
import struct
import zlib
from typing import Any

import pytest
from playwright.sync_api import FilePayload, Page, Request, Route, expect

from robolearn.chat import RequestContext
from robolearn.services import Services

from .conftest import (
    CITATION_URL,
    PHONE,
    RunPage,
    last_answer,
    open_chat,
    screenshot,
    send,
)

pytestmark = pytest.mark.browser


def message_box(page: Page) -> Any:
    return page.get_by_role("textbox", name="Message", exact=True)


async def test_answer_streams_in_as_safe_markdown_with_a_citation(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        send(page, "What is a node? <img src=x onerror=alert(1)>")
        answer = last_answer(page)
        # The echoed question arrives as text: markup in it is shown, never run.
        expect(answer).to_contain_text("answer to: What is a node? <img src=x onerror=alert(1)>")
        expect(page.locator(".messages img")).to_have_count(0)

        citation = answer.get_by_role("link", name="Lesson")
        expect(citation).to_have_attribute("href", CITATION_URL)
        expect(citation).to_have_attribute("target", "_blank")
        expect(citation).to_have_attribute("rel", "noopener noreferrer")
        expect(answer.locator("li")).to_have_count(2)
        expect(answer.locator("li strong")).to_have_text("Nodes")
        expect(answer.locator("li code")).to_have_text("messages")
        expect(answer.locator("pre code")).to_have_text("rclpy.init()")
        expect(answer.locator("em")).to_have_text("more")

        expect(page.locator("#thread-title")).to_have_text(re.compile("^What is a node?"))
        current = page.locator(".thread-link[aria-current=page]")
        expect(current).to_contain_text("What is a node?")
        screenshot(page, "desktop-answer")

    await run_page(scenario)


async def test_stream_renders_while_it_arrives_and_can_be_stopped(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        send(page, "a slow question")
        streaming = page.locator(".message-assistant[aria-busy=true]")
        expect(streaming).to_contain_text("answer to: a slow question")
        expect(page.get_by_role("button", name="Send")).to_be_hidden()
        page.get_by_role("button", name="Stop").click()
        stopped = page.locator(".message-assistant").last
        expect(stopped).to_contain_text("Stopped.")
        expect(stopped).to_have_attribute("aria-busy", "false")
        expect(page.get_by_role("button", name="Send")).to_be_visible()
        # The thread is usable again at once: the next question is queued behind the
        # server's unfinished turn and answered after it.
        send(page, "thanks")
        expect(page.locator(".message-assistant").last).to_contain_text(
            "answer to: thanks", timeout=15_000
        )

    await run_page(scenario)


async def test_keyboard_only_conversation(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        # On a desktop the cursor starts in the message box.
        expect(message_box(page)).to_be_focused()
        page.keyboard.type("line one")
        page.keyboard.press("Shift+Enter")
        page.keyboard.type("line two")
        page.keyboard.press("Enter")
        first_paragraph = last_answer(page).locator(".markdown p").first
        assert first_paragraph.inner_text() == "answer to: line one\nline two"
        expect(page.locator(".message-user .user-text")).to_have_text("line one\nline two")
        expect(message_box(page)).to_be_focused()
        expect(message_box(page)).to_have_value("")

        # Back from the message box: the attach button, then "Retry answer"; Enter retries.
        page.keyboard.press("Shift+Tab")
        expect(page.get_by_role("button", name="Attach an image or file")).to_be_focused()
        page.keyboard.press("Shift+Tab")
        retry = page.get_by_role("button", name="Retry answer")
        expect(retry).to_be_focused()
        outline = retry.evaluate("el => getComputedStyle(el).outlineStyle")
        assert outline == "solid", "keyboard focus must be visible"
        page.keyboard.press("Enter")
        expect(last_answer(page)).to_contain_text("Answer #2.")
        expect(page.locator(".message-assistant")).to_have_count(1)

        # The skip link is the first stop of the page and leads to the message box.
        page.goto("about:blank")
        page.go_back()
        page.wait_for_selector("body[data-ready]")
        page.evaluate("document.activeElement.blur()")
        page.keyboard.press("Tab")
        skip = page.get_by_role("link", name="Skip to message box")
        expect(skip).to_be_focused()
        page.keyboard.press("Enter")
        expect(message_box(page)).to_be_focused()

    await run_page(scenario)


async def test_threads_persist_across_reloads_newest_first(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        send(page, "first question")
        last_answer(page)
        page.get_by_role("link", name="New chat").click()
        expect(page.locator(".message")).to_have_count(0)
        send(page, "second question")
        last_answer(page)

        page.reload()
        page.wait_for_selector("body[data-ready]")
        names = page.locator(".thread-link .thread-name")
        expect(names).to_have_text(["second question", "first question"])
        # The open thread (kept in the URL) comes back with its messages.
        expect(page.locator(".message-user")).to_contain_text(["second question"])
        expect(last_answer(page)).to_contain_text("answer to: second question")

        page.locator(".thread-link", has_text="first question").click()
        expect(page.locator("#thread-title")).to_have_text("first question")
        expect(page.locator("#thread-title")).to_be_focused()
        expect(page.locator(".message-assistant")).to_contain_text(["answer to: first question"])
        expect(page.locator(".thread-link[aria-current=page]")).to_have_text(
            re.compile("first question")
        )
        screenshot(page, "desktop-thread-list")

        # Another user id sees none of alice's conversations.
        open_chat(page, "user=bob")
        expect(page.locator("#thread-list-status")).to_have_text("No conversations yet.")

    await run_page(scenario)


async def test_http_errors_are_shown_and_the_message_is_kept(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page, "user=not%20valid")
        send(page, "hello?")
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Not signed in")
        expect(alert).to_contain_text("X-User-ID")
        # Nothing was sent, so nothing is lost: the text is back in the box.
        expect(message_box(page)).to_have_value("hello?")
        expect(page.locator(".message-user")).to_have_count(0)
        screenshot(page, "desktop-error")

        page.get_by_role("button", name=re.compile("Settings")).click()
        dialog = page.get_by_role("dialog", name="Settings")
        dialog.get_by_label("User id").fill("carol")
        dialog.get_by_role("button", name="Save").click()
        expect(dialog).to_be_hidden()
        expect(page.get_by_role("button", name=re.compile("Settings"))).to_be_focused()
        message_box(page).press("Enter")
        expect(last_answer(page)).to_contain_text("answer to: hello?")
        expect(alert).to_be_hidden()

    await run_page(scenario)


async def test_error_event_offers_retry_that_answers_again(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        send(page, "please fail once")
        alert = page.get_by_role("alert")
        expect(alert).to_be_visible()
        expect(page.locator(".message-assistant[aria-busy=true]")).to_have_count(0)
        alert.get_by_role("button", name="Retry").click()
        answer = last_answer(page)
        expect(answer).to_contain_text("answer to: please fail once")
        expect(answer).to_contain_text("Answer #2.")
        expect(alert).to_be_hidden()
        expect(page.locator(".message-assistant")).to_have_count(1)

        page.reload()
        page.wait_for_selector("body[data-ready]")
        expect(page.locator(".message-assistant")).to_have_count(1)
        expect(last_answer(page)).to_contain_text("Answer #2.")

    await run_page(scenario)


async def test_page_context_and_user_info_reach_the_server(
    run_page: RunPage, services: Services
) -> None:
    bodies: list[dict[str, Any]] = []

    def record(request: Request) -> None:
        if request.url.endswith("/chatkit"):
            bodies.append(json.loads(request.post_data or "{}"))

    def scenario(page: Page) -> None:
        page.on("request", record)
        open_chat(
            page,
            "user=dana&name=Dana&tier=2&page=/docs/module-1/intro"
            "&title=Intro%20to%20ROS%202&headings=Nodes|Topics",
        )
        expect(page.locator("#context-line")).to_have_text("Reading: Intro to ROS 2")
        send(page, "what is this page about?")
        last_answer(page)
        send(page, "and a follow-up")
        expect(page.locator(".message-assistant")).to_have_count(2)
        last_answer(page)

    await run_page(scenario)

    expected = {
        "userInfo": {"id": "dana", "name": "Dana", "hardwareTier": 2},
        "pageContext": {
            "title": "Intro to ROS 2",
            "path": "/docs/module-1/intro",
            "headings": ["Nodes", "Topics"],
        },
    }
    sent = [b for b in bodies if b.get("type", "").startswith("threads.")]
    streaming = [b for b in sent if b["type"] in ("threads.create", "threads.add_user_message")]
    assert [b["type"] for b in streaming] == ["threads.create", "threads.add_user_message"]
    assert all(b["metadata"] == expected for b in streaming)

    context = RequestContext(user_id="dana")
    threads = await services.store.load_threads(10, None, "desc", context)
    remembered = threads.data[0].metadata["robolearn"]
    assert remembered["pageContext"]["title"] == "Intro to ROS 2"
    assert remembered["userInfo"]["name"] == "Dana"


async def test_image_attachment_is_uploaded_and_shown(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        with page.expect_response(
            lambda response: response.request.method == "PUT" and "/upload" in response.url
        ) as uploaded:
            page.set_input_files(
                "#file-input",
                files=FilePayload(name="diagram.png", mimeType="image/png", buffer=_png(48, 32)),
            )
        # The server's upload link is a relative path; the page resolves it against itself.
        assert uploaded.value.status == 200
        assert re.fullmatch(
            r"http://127\.0\.0\.1:\d+/attachments/atc_\w+/upload", uploaded.value.url
        )
        chip = page.locator(".attachment")
        expect(chip).to_contain_text("diagram.png")
        expect(chip).to_contain_text("ready")
        send(page, "what is in this picture?")
        expect(last_answer(page)).to_contain_text("answer to: what is in this picture?")
        expect(page.locator(".attachment")).to_have_count(0)
        image = page.locator(".message-user img[alt='diagram.png']")
        expect(image).to_be_visible()
        # The server's signed preview link (not the local blob) loads under the page's CSP.
        expect(image).to_have_attribute(
            "src", re.compile(r"^http://127\.0\.0\.1:\d+/attachments/atc_\w+/preview\?thread=")
        )
        page.wait_for_function(
            "() => document.querySelector('.message-user img').naturalWidth === 48"
        )

    await run_page(scenario)


async def test_attachment_refused_by_the_server_degrades_gracefully(run_page: RunPage) -> None:
    def refuse_attachments(route: Route) -> None:
        if (route.request.post_data_json or {}).get("type") == "attachments.create":
            route.fulfill(
                status=501,
                content_type="application/json",
                body='{"error": {"code": "not_implemented", "message": "no attachments here"}}',
            )
        else:
            route.fallback()

    def scenario(page: Page) -> None:
        open_chat(page)
        page.route("**/chatkit", refuse_attachments)
        page.set_input_files(
            "#file-input",
            files=FilePayload(name="notes.txt", mimeType="text/plain", buffer=b"some notes"),
        )
        alert = page.get_by_role("alert")
        expect(alert).to_contain_text("Could not attach “notes.txt”: no attachments here")
        expect(page.locator(".attachment")).to_contain_text("not attached")
        page.unroute("**/chatkit")
        send(page, "still works")
        expect(last_answer(page)).to_contain_text("answer to: still works")
        expect(page.locator(".message-user .attachment-chip")).to_have_count(0)

    await run_page(scenario)


async def test_phone_width_layout(run_page: RunPage) -> None:
    def scenario(page: Page) -> None:
        open_chat(page)
        expect(page.get_by_role("navigation", name="Conversations")).to_be_hidden()
        send(
            page,
            "Explain `ros2 topic echo` on a phone, with a long URL https://example.org/" + "a" * 80,
        )
        last_answer(page)
        width = page.evaluate("document.documentElement.scrollWidth")
        assert width <= PHONE["width"], f"the page scrolls sideways: {width}px"
        screenshot(page, "phone-answer")

        menu = page.get_by_role("button", name="Conversations")
        menu.click()
        expect(menu).to_have_attribute("aria-expanded", "true")
        expect(page.get_by_role("link", name="New chat")).to_be_focused()
        page.wait_for_timeout(250)  # let the drawer finish sliding in for the screenshot
        screenshot(page, "phone-drawer")
        page.keyboard.press("Escape")
        expect(page.get_by_role("navigation", name="Conversations")).to_be_hidden()
        expect(menu).to_be_focused()

    await run_page(scenario, viewport=PHONE)


def _png(width: int, height: int) -> bytes:
    """A small valid PNG (a teal gradient), built without an imaging library."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        body = kind + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    rows = b"".join(
        b"\x00" + b"".join(bytes((13, 110 + x * 2, 102 + y * 3)) for x in range(width))
        for y in range(height)
    )
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )

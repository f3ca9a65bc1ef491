"""Every kind of stored thread item becomes model input that both provider APIs accept."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any, cast

import pytest
from agents.items import TResponseInputItem
from agents.models.chatcmpl_converter import Converter
from chatkit.agents import simple_to_agent_input
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    Attachment,
    ClientToolCallItem,
    CustomTask,
    EndOfTurnItem,
    FileAttachment,
    GeneratedImage,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    InferenceOptions,
    SDKHiddenContextItem,
    TaskItem,
    ThreadItem,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
    Workflow,
    WorkflowItem,
)
from pydantic import AnyUrl

from robolearn.chat import RequestContext
from robolearn.chat._model_input import ModelInputConverter
from robolearn.store import BlobStore, PostgresStore

NOW = datetime(2026, 1, 1)
ALICE = RequestContext(user_id="alice")
PNG = b"\x89PNG\r\n\x1a\n" + b"\0" * 16


def user(item_id: str, text: str, **fields: Any) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        thread_id="thr_1",
        created_at=NOW,
        content=[UserMessageTextContent(text=text)],
        inference_options=InferenceOptions(),
        **fields,
    )


def assistant(item_id: str, text: str) -> AssistantMessageItem:
    return AssistantMessageItem(
        id=item_id, thread_id="thr_1", created_at=NOW, content=[AssistantMessageContent(text=text)]
    )


def image(attachment_id: str, name: str = "diagram.png") -> ImageAttachment:
    return ImageAttachment(
        id=attachment_id,
        name=name,
        mime_type="image/png",
        preview_url=AnyUrl(f"http://localhost/attachments/{attachment_id}"),
    )


async def uploaded(blobs: BlobStore, attachment: Attachment, data: bytes) -> Attachment:
    await blobs.announce(attachment.id, attachment.mime_type, len(data), ALICE)
    await blobs.upload(attachment.id, data, ALICE)
    return attachment


def every_kind(current: UserMessageItem) -> list[ThreadItem]:
    """A history holding one of every item kind the store can hold, then ``current``."""
    base = {"thread_id": "thr_1", "created_at": NOW}
    tagged = user("msg_tag", "", quoted_text="Nodes are processes")
    tagged.content = [
        UserMessageTextContent(text="compare "),
        UserMessageTagContent(id="t1", text="turtlesim", data={"lesson": "intro"}),
        UserMessageTextContent(text=" and "),
        UserMessageTagContent(id="t2", text="rviz", data={"nested": {"deep": [1, 2]}}),
    ]
    return [
        user("msg_1", "What is a node?", attachments=[image("atc_old", "old.png")]),
        assistant("msg_2", "A node is a process. See [Nodes](https://example.org/nodes)."),
        assistant("msg_empty", ""),
        tagged,
        HiddenContextItem(id="hc_1", content="plain hidden note", **base),
        HiddenContextItem(id="hc_2", content={"structured": True}, **base),
        SDKHiddenContextItem(id="sdk_1", content="The user cancelled the stream.", **base),
        ClientToolCallItem(
            id="ctc_1",
            call_id="c1",
            name="get_page",
            arguments={"p": 1},
            output={"ok": 1},
            status="completed",
            **base,
        ),
        ClientToolCallItem(id="ctc_2", call_id="c2", name="get_page", arguments={}, **base),
        TaskItem(id="task_1", task=CustomTask(title="Searched", content="the book"), **base),
        WorkflowItem(
            id="wf_1", workflow=Workflow(type="custom", tasks=[CustomTask(title="Step")]), **base
        ),
        GeneratedImageItem(
            id="img_1", image=GeneratedImage(id="g1", url="https://example.org/x.png"), **base
        ),
        EndOfTurnItem(id="eot_1", **base),
        current,
    ]


def chat_messages(items: Sequence[TResponseInputItem]) -> list[dict[str, Any]]:
    """What the Agents SDK sends a Chat Completions server (raises on input it rejects)."""
    return cast(list[dict[str, Any]], Converter.items_to_messages(list(items)))


@pytest.fixture
def blobs(store: PostgresStore) -> BlobStore:
    return BlobStore(store)


async def test_chatkit_default_breaks_chat_completions_on_replayed_answers() -> None:
    # The bug this converter exists for: if chatkit's default ever stops failing, this
    # test says the workaround may go.
    items = await simple_to_agent_input([user("m1", "hi"), assistant("m2", "hello")])
    with pytest.raises(Exception, match="Unknown content"):
        chat_messages(items)


async def test_every_item_kind_converts_for_both_apis(blobs: BlobStore) -> None:
    picture = await uploaded(blobs, image("atc_new"), PNG)
    notes = await uploaded(
        blobs,
        FileAttachment(id="atc_file", name="notes.txt", mime_type="text/plain"),
        b"my notes",
    )
    current = user("msg_now", "Explain this picture", attachments=[picture, notes])
    items = await ModelInputConverter(blobs, ALICE).to_agent_input(every_kind(current))

    messages = chat_messages(items)  # Chat Completions: must not raise

    roles = [message["role"] for message in messages]
    assert set(roles) <= {"user", "assistant"}
    assistants = [message["content"] for message in messages if message["role"] == "assistant"]
    assert assistants == ["A node is a process. See [Nodes](https://example.org/nodes)."]
    # The user's own words are the last message; the current attachments go whole.
    last = messages[-1]
    assert last["content"][0] == {"type": "text", "text": "Explain this picture"}
    assert last["content"][1]["image_url"]["url"].startswith("data:image/png;base64,")
    assert last["content"][2]["file"]["file_data"].startswith("data:text/plain;base64,")
    text = repr(messages)
    # An earlier attachment is a reference, never its bytes.
    assert "[attached image: old.png (image/png)]" in text
    assert text.count("data:image/png") == 1
    assert "compare @turtlesim and @rviz" in text
    assert '@rviz: {"nested": {"deep": [1, 2]}}' in text
    assert "Nodes are processes" in text
    assert "The user cancelled the stream." in text
    assert '{"structured": true}' in text
    assert "`get_page`" in text and text.count("get_page") == 1  # the pending call is left out


async def test_the_users_words_stay_the_newest_user_message(blobs: BlobStore) -> None:
    tagged = user("m", "", quoted_text="quoted")
    tagged.content = [
        UserMessageTextContent(text="what about "),
        UserMessageTagContent(id="t", text="gazebo", data={}),
    ]
    items = await ModelInputConverter(blobs, ALICE).to_agent_input([tagged])
    last = cast(dict[str, Any], items[-1])
    assert last["content"][0]["text"] == "what about @gazebo"


async def test_a_deleted_attachment_becomes_a_note(blobs: BlobStore) -> None:
    message = user("m", "look", attachments=[image("atc_gone", "gone.png")])
    items = await ModelInputConverter(blobs, ALICE).to_agent_input([message])
    assert "[attached image: gone.png (image/png)] (since deleted)" in repr(chat_messages(items))


async def test_an_item_that_cannot_be_converted_becomes_a_note(blobs: BlobStore) -> None:
    class Failing(ModelInputConverter):
        async def assistant_message_to_input(self, item: AssistantMessageItem) -> None:
            raise RuntimeError("boom")

    items = await Failing(blobs, ALICE).to_agent_input(
        [assistant("a", "x"), user("u", "next question")]
    )
    messages = chat_messages(items)
    assert messages[0]["content"][0]["text"] == "[An earlier assistant message is not shown.]"
    assert messages[-1]["content"][0]["text"] == "next question"

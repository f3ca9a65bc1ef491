"""Builders for chatkit values used across the store tests."""

from __future__ import annotations

from datetime import datetime, timedelta

import attrs
from chatkit.types import (
    AssistantMessageContent,
    AssistantMessageItem,
    FileAttachment,
    InferenceOptions,
    ThreadItem,
    ThreadMetadata,
    UserMessageItem,
    UserMessageTextContent,
    WidgetItem,
)
from chatkit.widgets import Card, Col, Text


@attrs.frozen
class Ctx:
    user_id: str


ALICE = Ctx("alice")
BOB = Ctx("bob")


def thread(thread_id: str = "thr_test", created_at: datetime | None = None) -> ThreadMetadata:
    return ThreadMetadata(
        id=thread_id,
        title="Test Thread",
        created_at=created_at or datetime.now(),
        metadata={"test": "test"},
    )


def user_message(
    item_id: str, text: str = "hi", thread_id: str = "thr_test", at: datetime | None = None
) -> UserMessageItem:
    return UserMessageItem(
        id=item_id,
        content=[UserMessageTextContent(text=text)],
        attachments=[],
        inference_options=InferenceOptions(),
        thread_id=thread_id,
        created_at=at or datetime.now(),
    )


def mixed_items(thread_id: str = "thr_test") -> list[ThreadItem]:
    """A user message with an attachment, an answer and a widget, as chatkit's own tests use."""
    now = datetime.now()
    return [
        UserMessageItem(
            id="msg_100000",
            content=[UserMessageTextContent(text="Hello!")],
            attachments=[
                FileAttachment(
                    id="file_1",
                    type="file",
                    mime_type="text/plain",
                    name="test.txt",
                    metadata={"source": "test"},
                )
            ],
            inference_options=InferenceOptions(),
            thread_id=thread_id,
            created_at=now,
        ),
        AssistantMessageItem(
            id="msg_000001",
            content=[AssistantMessageContent(text="Hi there!")],
            thread_id=thread_id,
            created_at=now + timedelta(seconds=1),
        ),
        WidgetItem(
            id="widget_1",
            type="widget",
            thread_id=thread_id,
            created_at=now + timedelta(seconds=2),
            widget=Card(
                children=[
                    Col(
                        padding={"x": 4, "y": 3},
                        border={"bottom": 1},
                        children=[Text(value="Title", weight="medium"), Text(value="test")],
                    )
                ]
            ),
        ),
    ]

"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

What each stored thread item becomes for the model: the one place that decides.

chatkit's default converter replays an earlier answer as a ``message`` whose parts are
``output_text`` without the ``id``/``status`` of a real model output: the Responses API takes
that, the Agents SDK's Chat Completions converter rejects it (``UserError: Unknown content``),
so with any OpenAI-compatible server every follow-up failed. An ``input_tag`` raised
``NotImplementedError`` for as long as it stayed in the history window. Here every item kind
becomes input that both provider APIs take (plain user/assistant messages with text, and
images/files only for the message being answered), and an item that cannot be converted
becomes a short note instead of failing the turn: nothing stored can break a later turn.
"""

from __future__ import annotations

import base64
import json
import logging

import attrs
from agents.items import TResponseInputItem
from chatkit.agents import ThreadItemConverter
from chatkit.types import (
    AssistantMessageItem,
    Attachment,
    ClientToolCallItem,
    GeneratedImageItem,
    HiddenContextItem,
    ImageAttachment,
    ThreadItem,
    UserMessageItem,
    UserMessageTagContent,
    UserMessageTextContent,
)
from openai.types.responses import ResponseInputContentParam

from robolearn._memory import GarbageBudget
from robolearn.store import BlobStore, NotFoundError

from ._context import RequestContext

__all__ = ["ModelInputConverter"]

_log = logging.getLogger("robolearn.chat")

# Tag data and tool results are context, not documents: keep what the model reads bounded.
_MAX_CONTEXT_CHARS = 2000


def _user_text(text: str) -> TResponseInputItem:
    return {"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}]}


def _bounded_json(value: object) -> str:
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= _MAX_CONTEXT_CHARS else text[: _MAX_CONTEXT_CHARS - 1] + "…"


@attrs.frozen
class ModelInputConverter(ThreadItemConverter):
    """Thread items (history, then the message being answered) to Agents SDK input.

    - The user's own words stay the last user message of their turn: quoted text and tag
      context come before them, so "the newest user message" is what the user typed.
    - Attachments of the message being answered go to the model whole (data URLs of the
      uploaded bytes: images as ``input_image``, other files as ``input_file``); earlier
      ones as a one-line reference, so a long conversation does not re-send (and hold in
      memory) every file it ever carried, unless ``inline_history`` says to send them whole
      too (``ROBOLEARN_HISTORY_ATTACHMENTS=inline``).
    - Earlier answers are assistant messages with plain text content; hidden context,
      client tool calls and other widgets' items are user-role notes the UI never showed.
    """

    blobs: BlobStore
    context: RequestContext
    # Told how many attachment bytes this turn read (see robolearn._memory).
    garbage: GarbageBudget | None = None
    inline_history: bool = False

    async def _thread_item_to_input_item(
        self, item: ThreadItem, is_last_message: bool = True
    ) -> list[TResponseInputItem]:
        try:
            return await super()._thread_item_to_input_item(item, is_last_message)
        except Exception as exc:
            # A stored item of a kind (or shape) this server cannot replay must not make
            # every later turn of its thread fail.
            _log.warning(
                "thread item %s (%s) left out of the model input: %r", item.id, item.type, exc
            )
            return [_user_text(f"[An earlier {item.type.replace('_', ' ')} is not shown.]")]

    async def user_message_to_input(
        self, item: UserMessageItem, is_last_message: bool = True
    ) -> list[TResponseInputItem]:
        before: list[TResponseInputItem] = []
        if item.quoted_text:
            before.append(
                _user_text(f"The user is referring to this in particular:\n{item.quoted_text}")
            )
        tags = {part.text: part for part in item.content if isinstance(part, UserMessageTagContent)}
        if tags:
            lines = [f"- @{tag.text}: {_bounded_json(tag.data)}" for tag in tags.values()]
            before.append(
                _user_text(
                    "Context for the @-mentions in the next message (use their names without"
                    " '@'):\n" + "\n".join(lines)
                )
            )
        text = "".join(
            part.text if isinstance(part, UserMessageTextContent) else f"@{part.text}"
            for part in item.content
        )
        content: list[ResponseInputContentParam] = [{"type": "input_text", "text": text}]
        for attachment in item.attachments:
            if is_last_message or self.inline_history:
                content.append(await self.attachment_to_message_content(attachment))
            else:
                content.append({"type": "input_text", "text": _reference(attachment)})
        return [*before, {"type": "message", "role": "user", "content": content}]

    async def attachment_to_message_content(
        self, attachment: Attachment
    ) -> ResponseInputContentParam:
        try:
            blob = await self.blobs.load(attachment.id, context=self.context)
        except NotFoundError:
            # Deleted (attachments.delete) after the message was sent.
            return {"type": "input_text", "text": f"{_reference(attachment)} (since deleted)"}
        if self.garbage is not None:
            self.garbage.spent(len(blob.data))
        data_url = f"data:{blob.mime_type};base64,{base64.b64encode(blob.data).decode()}"
        if isinstance(attachment, ImageAttachment):
            return {"type": "input_image", "image_url": data_url, "detail": "auto"}
        return {"type": "input_file", "file_data": data_url, "filename": attachment.name}

    async def tag_to_message_content(self, tag: UserMessageTagContent) -> ResponseInputContentParam:
        return {"type": "input_text", "text": f"@{tag.text}: {_bounded_json(tag.data)}"}

    async def assistant_message_to_input(
        self, item: AssistantMessageItem
    ) -> TResponseInputItem | None:
        text = "".join(part.text for part in item.content)
        if not text.strip():
            return None
        # Plain text content: what both the Responses API and every Chat Completions server
        # accept for an earlier assistant turn.
        return {"type": "message", "role": "assistant", "content": text}

    async def hidden_context_to_input(self, item: HiddenContextItem) -> TResponseInputItem:
        content = item.content if isinstance(item.content, str) else _bounded_json(item.content)
        return _user_text(
            "Hidden context for the agent (not shown to the user):\n"
            f"<HiddenContext>\n{content}\n</HiddenContext>"
        )

    async def client_tool_call_to_input(
        self, item: ClientToolCallItem
    ) -> TResponseInputItem | None:
        if item.status == "pending":
            return None
        # As a note rather than a function call/output pair: the tool is the client's, not
        # one this agent offers, and providers refuse calls to tools they were not given.
        return _user_text(
            f"Earlier the app ran its tool `{item.name}` with {_bounded_json(item.arguments)}"
            f" and it returned {_bounded_json(item.output)}."
        )

    async def generated_image_to_input(self, item: GeneratedImageItem) -> TResponseInputItem | None:
        # Its URL may not be reachable from the provider; the fact is what matters later.
        return _user_text("[The assistant showed the user a generated image here.]")


def _reference(attachment: Attachment) -> str:
    kind = "image" if isinstance(attachment, ImageAttachment) else "file"
    return f"[attached {kind}: {attachment.name} ({attachment.mime_type})]"

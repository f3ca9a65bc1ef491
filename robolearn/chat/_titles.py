"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

A thread's title: the first message cut at a word boundary, then (with a provider model)
a short title the model writes while the first answer streams."""

from __future__ import annotations

import logging
import unicodedata

from agents import Agent, RunConfig, Runner
from agents.models.interface import Model
from chatkit.types import UserMessageItem, UserMessageTagContent, UserMessageTextContent

__all__ = ["MAX_TITLE_CHARS", "ModelTitler", "clean_title", "first_words_title"]

_log = logging.getLogger("robolearn.chat")

MAX_TITLE_CHARS = 60
_DEFAULT = "New conversation"
_INSTRUCTIONS = (
    "Write a title of at most six words for a conversation that starts with the user's "
    "message below. Answer with the title only: no quotes, no final punctuation."
)
# What the model is shown of the first message: a title needs its gist, not all of it.
_PROMPT_CHARS = 1000


def message_text(message: UserMessageItem) -> str:
    return " ".join(
        part.text if isinstance(part, UserMessageTextContent) else f"@{part.text}"
        for part in message.content
        if isinstance(part, UserMessageTextContent | UserMessageTagContent)
    )


def clean_title(text: str) -> str:
    """One line of at most `MAX_TITLE_CHARS` characters, cut between words ("…" if cut),
    without control characters (a pasted terminal colour code would print as one)."""
    text = "".join(" " if unicodedata.category(char) == "Cc" else char for char in text)
    text = " ".join(text.split()).strip(" \"'`*#")
    if len(text) <= MAX_TITLE_CHARS:
        return text
    cut = text[: MAX_TITLE_CHARS - 1]
    if text[MAX_TITLE_CHARS - 1] != " " and " " in cut:
        cut = cut.rsplit(" ", 1)[0]  # the last whole word that fits
    return cut.rstrip(" ,;:-") + "…"


def first_words_title(message: UserMessageItem) -> str:
    """The title a thread gets at once: its first message, cut between words."""
    return clean_title(message_text(message)) or _DEFAULT


class ModelTitler:
    """Asks the provider's model for a short title (asyncio code: runs inside a turn)."""

    def __init__(self, model: Model, run_config: RunConfig) -> None:
        self._agent: Agent[None] = Agent(
            name="Title writer", instructions=_INSTRUCTIONS, model=model
        )
        self._run_config = run_config

    async def __call__(self, message: UserMessageItem) -> str | None:
        text = message_text(message)[:_PROMPT_CHARS].strip()
        if not text:
            return None
        try:
            result = await Runner.run(self._agent, text, run_config=self._run_config, max_turns=1)
        except Exception as exc:
            # A title is a nicety: the first-words title stays.
            _log.info("no title from the model: %r", exc)
            return None
        return clean_title(str(result.final_output or "")) or None

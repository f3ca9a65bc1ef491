"""Which Agents SDK model answers: chosen once at startup from Settings."""

from __future__ import annotations

import logging

from agents.models.interface import Model
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from openai import AsyncOpenAI

from robolearn.config import Settings

from ._text_model import ScriptedTokensModel

__all__ = ["build_model"]

_log = logging.getLogger("robolearn.chat")


def build_model(settings: Settings, *, local: Model | None = None) -> Model:
    """The model ``settings`` ask for; ``local`` is the offline tutor model (auto without a key)."""
    choice = settings.model
    if choice == "auto":
        choice = "openai" if settings.openai_api_key else "local"
    if choice == "scripted":
        _log.info(
            "model: scripted (%d tokens, %g ms apart)",
            settings.scripted_tokens,
            settings.scripted_delay_ms,
        )
        return ScriptedTokensModel(settings.scripted_tokens, settings.scripted_delay_ms / 1000)
    if choice == "openai":
        client = AsyncOpenAI(api_key=settings.openai_api_key, base_url=settings.openai_base_url)
        _log.info("model: %s via %s", settings.openai_model, settings.openai_base_url or "OpenAI")
        if settings.openai_base_url:
            # OpenAI-compatible servers speak Chat Completions, rarely the Responses API.
            return OpenAIChatCompletionsModel(settings.openai_model, client)
        return OpenAIResponsesModel(settings.openai_model, client)
    if local is None:
        raise ValueError("no local model was provided")
    _log.info("model: local offline tutor (no OPENAI_API_KEY)")
    return local

"""Which Agents SDK model answers, and the provider client behind it: chosen once at startup.

A provider is OpenAI (``OPENAI_API_KEY``) or any OpenAI-compatible server (``OPENAI_BASE_URL``:
vLLM, Ollama, LiteLLM...). Local servers usually take no key; the client then sends a
placeholder, since the openai SDK insists on one.
"""

from __future__ import annotations

import logging

import httpx2
from agents.models.interface import Model
from agents.models.openai_chatcompletions import OpenAIChatCompletionsModel
from agents.models.openai_responses import OpenAIResponsesModel
from chatkit.types import AudioInput
from openai import AsyncOpenAI

from robolearn._aio import run_aio
from robolearn.config import Settings

from ._text_model import ScriptedTokensModel

__all__ = [
    "PLACEHOLDER_API_KEY",
    "NotConfigured",
    "ProviderTranscriber",
    "build_model",
    "probe_provider",
    "provider_client",
]

_log = logging.getLogger("robolearn.chat")

PLACEHOLDER_API_KEY = "robolearn-no-key"

# Longest wait for a connection to the provider: a server that is down should fail (and be
# retried) quickly, while a model may well think for a while before its first byte.
_CONNECT_TIMEOUT = 10.0


def _model_choice(settings: Settings) -> str:
    if settings.model == "auto":
        return "openai" if settings.uses_provider else "local"
    return settings.model


def provider_client(settings: Settings) -> AsyncOpenAI | None:
    """The provider's client, or None when the model is not a provider's (offline, scripted).

    The client retries, with backoff and the provider's ``Retry-After``, what is safe to
    retry: a request that failed (429, 5xx, timeout, no connection) before its answer began.
    """
    if _model_choice(settings) != "openai":
        return None
    key = settings.openai_api_key
    if key is None:
        _log.info(
            "OPENAI_BASE_URL without OPENAI_API_KEY: sending the placeholder key %r",
            PLACEHOLDER_API_KEY,
        )
        key = PLACEHOLDER_API_KEY
    return AsyncOpenAI(
        api_key=key,
        base_url=settings.openai_base_url,
        max_retries=settings.model_retries,
        timeout=httpx2.Timeout(
            settings.model_timeout, connect=min(_CONNECT_TIMEOUT, settings.model_timeout)
        ),
    )


def build_model(
    settings: Settings, client: AsyncOpenAI | None, *, local: Model | None = None
) -> Model:
    """The model ``settings`` ask for; ``local`` is the offline tutor model (auto without a
    provider); ``client`` is :func:`provider_client`'s."""
    choice = _model_choice(settings)
    if choice == "scripted":
        _log.info(
            "model: scripted (%d tokens, %g ms apart)",
            settings.scripted_tokens,
            settings.scripted_delay_ms,
        )
        return ScriptedTokensModel(
            settings.scripted_tokens,
            settings.scripted_delay_ms / 1000,
            echo_history=settings.scripted_echo_history,
        )
    if choice == "openai":
        if client is None:
            raise ValueError("a provider model needs a provider client")
        api = settings.openai_api
        if api == "auto":
            # OpenAI-compatible servers speak Chat Completions, rarely the Responses API.
            api = "chat_completions" if settings.openai_base_url else "responses"
        _log.info(
            "model: %s via %s (%s API)",
            settings.openai_model,
            settings.openai_base_url or "OpenAI",
            api.replace("_", " ").title(),
        )
        if api == "chat_completions":
            return OpenAIChatCompletionsModel(settings.openai_model, client)
        return OpenAIResponsesModel(settings.openai_model, client)
    if local is None:
        raise ValueError("no local model was provided")
    _log.info("model: local offline tutor (no OPENAI_API_KEY or OPENAI_BASE_URL)")
    return local


async def probe_provider(client: AsyncOpenAI, *, wait: float = 3.0) -> bool:
    """Ask the provider for its model list once; warn if it does not answer (trio code).

    Startup must not wait for it, and a provider that is down is not fatal (answers fail with
    a readable error until it is back), but an operator should hear of a wrong URL at once.
    """
    url = f"{str(client.base_url).rstrip('/')}/models"
    try:
        async with httpx2.AsyncClient(timeout=wait) as http:
            response = await http.get(url, headers={"Authorization": f"Bearer {client.api_key}"})
    except httpx2.HTTPError as exc:
        _log.warning("the model provider at %s does not answer: %r", client.base_url, exc)
        return False
    if response.status_code >= 400:
        _log.warning(
            "the model provider at %s answered GET /models with HTTP %d",
            client.base_url,
            response.status_code,
        )
        return False
    _log.info("the model provider at %s answers", client.base_url)
    return True


class NotConfigured(NotImplementedError):
    """A feature this server could offer, but its configuration does not: says which."""


class ProviderTranscriber:
    """Dictation (``input.transcribe``) through the provider's transcription endpoint."""

    def __init__(self, client: AsyncOpenAI, model: str) -> None:
        self._client = client
        self._model = model

    async def __call__(self, audio: AudioInput) -> str:
        """The text of ``audio`` (trio code: the openai client runs through the bridge)."""
        # The provider tells the format by the file name's extension: audio/webm -> x.webm.
        name = "speech." + audio.media_type.rsplit("/", 1)[-1]
        result = await run_aio(
            lambda: self._client.audio.transcriptions.create(
                model=self._model, file=(name, audio.data, audio.media_type)
            )
        )
        return result.text

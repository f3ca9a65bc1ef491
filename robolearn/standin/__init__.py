"""A stand-in for an OpenAI-compatible model provider, in its own process, on loopback.

The product's tests and load benchmark point the ``openai`` SDK (and so ``openai-agents``)
at it exactly as at OpenAI, vLLM or Ollama, over real HTTP. It answers deterministically:
``answer to: <last user text>`` and then `` t1`` ... in ``tokens`` deltas; with a tool
result after the last user message, the first delta adds `` [tool said: <first 60
chars>]``. If the request offers a function tool named ``search`` and has no tool result
yet, and the ``tool_calls`` policy agrees (default: the user text says "search"), the
answer is a ``search`` call with ``{"query": "<user text>"}`` instead.
"""

from ._config import ConfigError, StandInConfig, ToolCallPolicy, UsagePolicy

__all__ = ["ConfigError", "StandInConfig", "ToolCallPolicy", "UsagePolicy"]

"""Runs on the asyncio side of the bridge (inside trio-asyncio's loop).

What the tutor reports about its runs (durations, tool calls) and votes, for metrics.
"""

from __future__ import annotations

import time
from contextlib import AbstractContextManager
from typing import Any, Protocol

from agents import Agent, RunContextWrapper, RunHooks
from agents.tool import Tool

from robolearn.obs import Tracing

__all__ = ["ObservingHooks", "RunObserver"]


class RunObserver(Protocol):
    def agent_run_finished(self, seconds: float) -> None: ...

    def tool_called(self, name: str) -> None: ...

    def feedback_recorded(self, kind: str, votes: int) -> None: ...


class ObservingHooks(RunHooks[Any]):
    """Agents SDK run hooks: tool calls and run time to a :class:`RunObserver`, and a span
    per tool call."""

    def __init__(self, observer: RunObserver | None, tracing: Tracing) -> None:
        self._observer = observer
        self._tracing = tracing
        self._spans: dict[int, AbstractContextManager[Any]] = {}
        self.started = time.perf_counter()

    async def on_tool_start(
        self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool
    ) -> None:
        if self._observer is not None:
            self._observer.tool_called(tool.name)
        if self._tracing.enabled:
            span = self._tracing.span("tool.call", **{"tool.name": tool.name})
            span.__enter__()
            self._spans[id(tool)] = span

    async def on_tool_end(
        self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool, result: object
    ) -> None:
        span = self._spans.pop(id(tool), None)
        if span is not None:
            span.__exit__(None, None, None)

    def finish(self) -> None:
        for span in self._spans.values():
            span.__exit__(None, None, None)
        self._spans.clear()
        if self._observer is not None:
            self._observer.agent_run_finished(time.perf_counter() - self.started)

"""What the tutor reports about its runs (durations, tool calls), for metrics."""

from __future__ import annotations

import time
from typing import Any, Protocol

from agents import Agent, RunContextWrapper, RunHooks
from agents.tool import Tool

__all__ = ["ObservingHooks", "RunObserver"]


class RunObserver(Protocol):
    def agent_run_finished(self, seconds: float) -> None: ...

    def tool_called(self, name: str) -> None: ...


class ObservingHooks(RunHooks[Any]):
    """Agents SDK run hooks that tell a :class:`RunObserver` about tool calls."""

    def __init__(self, observer: RunObserver) -> None:
        self._observer = observer
        self.started = time.perf_counter()

    async def on_tool_start(
        self, context: RunContextWrapper[Any], agent: Agent[Any], tool: Tool
    ) -> None:
        self._observer.tool_called(tool.name)

    def finish(self) -> None:
        self._observer.agent_run_finished(time.perf_counter() - self.started)

"""End to end with ``openai-agents``: a tool call and its result through the stand-in.

The Agents SDK is asyncio code, so the run is ``asyncio.run`` in a worker thread
(``trio.to_thread.run_sync``): its own event loop, while the test's trio loop waits.
"""

from __future__ import annotations

import asyncio
from typing import Any

import httpx
import pytest
import trio
from agents import (
    Agent,
    OpenAIChatCompletionsModel,
    OpenAIResponsesModel,
    RunConfig,
    RunItemStreamEvent,
    Runner,
    function_tool,
)
from agents.models.interface import Model
from openai import AsyncOpenAI

from robolearn.standin import StandIn

USER_TEXT = "please search ROS topics"


async def run_agent(base_url: str, api: str) -> dict[str, Any]:
    """One streamed agent run with a ``search`` tool; asyncio code."""
    queries: list[str] = []

    @function_tool
    def search(query: str) -> str:
        """Search the robotics textbook."""
        queries.append(query)
        return f"Topics are named buses; found 3 lessons for {query!r}."

    async with httpx.AsyncClient(trust_env=False) as http:
        client = AsyncOpenAI(base_url=base_url, api_key="x", http_client=http, max_retries=0)
        model: Model = (
            OpenAIChatCompletionsModel("standin", client)
            if api == "chat"
            else OpenAIResponsesModel("standin", client)
        )
        agent = Agent(name="tutor", instructions="Answer briefly.", tools=[search], model=model)
        # No trace export: the only network here is the stand-in.
        result = Runner.run_streamed(agent, USER_TEXT, run_config=RunConfig(tracing_disabled=True))
        items = [
            event.name
            async for event in result.stream_events()
            if isinstance(event, RunItemStreamEvent)
        ]
    return {"final": result.final_output, "queries": queries, "items": items}


@pytest.mark.parametrize(
    ("api", "path"), [("chat", "/v1/chat/completions"), ("responses", "/v1/responses")]
)
async def test_agent_calls_search_then_answers_with_its_result(
    standin: StandIn, api: str, path: str
) -> None:
    await standin.configure(tokens=5, delay_ms=1)
    run = await trio.to_thread.run_sync(lambda: asyncio.run(run_agent(standin.base_url, api)))
    assert run["queries"] == [USER_TEXT]
    assert run["final"].startswith(
        f"answer to: {USER_TEXT} [tool said: Topics are named buses; found 3 lessons for "
    )
    assert run["final"].endswith(" t1 t2 t3 t4")
    assert "tool_called" in run["items"]
    assert "tool_output" in run["items"]

    requests = await standin.requests()
    assert [r.path for r in requests] == [path, path]
    assert {r.authorization for r in requests} == {"Bearer x"}
    assert all(r.body["stream"] is True for r in requests)
    streams = [await standin.wait_stream(r.n) for r in requests]
    assert [s.outcome for s in streams] == ["completed", "completed"]

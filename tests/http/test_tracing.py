"""OpenTelemetry spans from request to database, exported to memory."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from opentelemetry.sdk.trace import ReadableSpan
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from robolearn.chat import LocalTutorModel
from robolearn.config import Settings
from robolearn.obs import Tracing
from robolearn.services import Services, open_services

from .conftest import ChatKit, user_input


@pytest.fixture
def exporter() -> InMemorySpanExporter:
    return InMemorySpanExporter()


@pytest.fixture
async def services(settings: Settings, exporter: InMemorySpanExporter) -> AsyncIterator[Services]:
    tracing = Tracing.from_env({}, exporter=exporter)
    async with open_services(settings, model=LocalTutorModel(delay=0), tracing=tracing) as opened:
        yield opened


def _chain(span: ReadableSpan, by_id: dict[int, ReadableSpan]) -> list[str]:
    names = [span.name]
    while span.parent is not None and span.parent.span_id in by_id:
        span = by_id[span.parent.span_id]
        names.append(span.name)
    return names


async def test_spans_nest_from_request_to_database(
    alice: ChatKit, exporter: InMemorySpanExporter
) -> None:
    events = await alice.stream("threads.create", input=user_input("How do ROS 2 topics work?"))
    assert events[-1]["type"] == "thread.item.done"
    spans = exporter.get_finished_spans()
    by_id = {span.context.span_id: span for span in spans}
    names = {span.name for span in spans}
    assert {"chatkit threads.create", "actor.turn", "agent.run", "tool.call"} <= names

    tool = next(span for span in spans if span.name == "tool.call")
    assert _chain(tool, by_id) == ["tool.call", "agent.run", "actor.turn", "chatkit threads.create"]
    assert tool.attributes is not None
    assert tool.attributes["tool.name"] == "search_robolearn_content"

    # Database queries made while answering belong to the same trace, below the turn.
    trace_id = tool.context.trace_id
    db = [s for s in spans if s.name.startswith("db ") and s.context.trace_id == trace_id]
    assert any(s.name == "db save_item" for s in db)
    for span in db:
        assert "actor.turn" in _chain(span, by_id)


async def test_tracing_off_makes_no_spans() -> None:
    tracing = Tracing.from_env({})
    assert not tracing.enabled
    with tracing.span("anything"):
        pass
    assert tracing.capture() is None

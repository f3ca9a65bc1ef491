"""OpenTelemetry spans: request → actor turn → agent run → tool call → database query.

Off unless ``OTEL_EXPORTER_OTLP_ENDPOINT`` is set (or a test passes an exporter): then
:meth:`Tracing.span` is a shared no-op context manager and OpenTelemetry is never imported.
The tracer provider belongs to this object, not to OpenTelemetry's process-global one.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import attrs

__all__ = ["Tracing"]

_NOTHING: AbstractContextManager[None] = contextlib.nullcontext()

_Attribute = str | int | float | bool


@attrs.frozen
class Tracing:
    """Makes spans, or nothing at all when tracing is off."""

    _tracer: Any = None
    _provider: Any = None

    @classmethod
    def from_env(cls, env: Mapping[str, str] | None = None, *, exporter: Any = None) -> Tracing:
        """Tracing to the OTLP endpoint in ``env`` (or to ``exporter``); off if neither."""
        env = os.environ if env is None else env
        if exporter is None and not env.get("OTEL_EXPORTER_OTLP_ENDPOINT"):
            return cls()
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        name = env.get("OTEL_SERVICE_NAME", "robolearn")
        provider = TracerProvider(resource=Resource.create({"service.name": name}))
        if exporter is None:
            from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

            provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
        else:
            provider.add_span_processor(SimpleSpanProcessor(exporter))
        return cls(provider.get_tracer("robolearn"), provider)

    @property
    def enabled(self) -> bool:
        return self._tracer is not None

    def span(self, name: str, **attributes: _Attribute | None) -> AbstractContextManager[Any]:
        """A span around the block, child of the current one."""
        if self._tracer is None:
            return _NOTHING
        clean = {key: value for key, value in attributes.items() if value is not None}
        span: AbstractContextManager[Any] = self._tracer.start_as_current_span(
            name, attributes=clean
        )
        return span

    def capture(self) -> object | None:
        """The current trace context, to continue it in another task (an actor's turn)."""
        if self._tracer is None:
            return None
        from opentelemetry import context

        return context.get_current()

    @contextmanager
    def resume(self, captured: object | None) -> Iterator[None]:
        """Make ``captured`` (from :meth:`capture`) the current trace context in the block."""
        if self._tracer is None or captured is None:
            yield
            return
        from opentelemetry import context

        token = context.attach(captured)  # type: ignore[arg-type]
        try:
            yield
        finally:
            context.detach(token)

    def shutdown(self) -> None:
        """Flush and stop exporting."""
        if self._provider is not None:
            self._provider.shutdown()

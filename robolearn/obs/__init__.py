"""Observability: structured logs, Prometheus metrics, OpenTelemetry tracing."""

from ._logs import JsonFormatter, bind_log_context, configure_logging, current_request_id
from ._metrics import Metrics
from ._tracing import Tracing

__all__ = [
    "JsonFormatter",
    "Metrics",
    "Tracing",
    "bind_log_context",
    "configure_logging",
    "current_request_id",
]

"""Observability: structured logs, Prometheus metrics, OpenTelemetry tracing."""

from ._logs import JsonFormatter, bind_log_context, configure_logging, current_request_id
from ._metrics import Metrics

__all__ = [
    "JsonFormatter",
    "Metrics",
    "bind_log_context",
    "configure_logging",
    "current_request_id",
]

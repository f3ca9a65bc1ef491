"""Prometheus metrics, in a registry owned by one app (no process-global state).

Counters and histograms are updated where things happen; actor and pool statistics are read
when ``/metrics`` is scraped, so they cost nothing in between.

Every sample carries a ``process`` label naming the process that counted it: ``main`` for a
single server, ``worker-1`` ... ``worker-N`` under ``robolearn serve --workers N``, so the
same queries (summed over ``process``) work either way. A name, not a pid: a restarted
worker continues its predecessor's series (a counter reset, which ``rate()`` handles) rather
than starting new ones.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

import attrs
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

__all__ = ["Metrics"]

_LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120)


class _SnapshotCollector(Collector):
    """Gauges read from ``snapshot()`` at scrape time."""

    def __init__(self, prefix: str, help_text: str, snapshot: Callable[[], Mapping[str, float]]):
        self._prefix = prefix
        self._help = help_text
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        for name, value in self._snapshot().items():
            yield GaugeMetricFamily(f"{self._prefix}_{name}", f"{self._help}: {name}", value=value)


class _ProcessLabelled(Collector):
    """Every family of ``registry``, each sample with ``process="<name>"`` added."""

    def __init__(self, registry: CollectorRegistry, process: str):
        self._registry = registry
        self._process = process

    def collect(self) -> Iterable[Metric]:
        for family in self._registry.collect():
            labelled = Metric(family.name, family.documentation, family.type, family.unit)
            labelled.samples = [
                sample._replace(labels={**sample.labels, "process": self._process})
                for sample in family.samples
            ]
            yield labelled


class _CounterCollector(Collector):
    """One counter read from ``read()`` at scrape time (exposed as ``<name>_total``)."""

    def __init__(self, name: str, help_text: str, read: Callable[[], float]):
        self._name = name
        self._help = help_text
        self._read = read

    def collect(self) -> Iterable[Metric]:
        yield CounterMetricFamily(self._name, self._help, value=self._read())


@attrs.define
class Metrics:
    registry: CollectorRegistry = attrs.field(factory=lambda: CollectorRegistry(auto_describe=True))
    process: str = attrs.field(default="main", kw_only=True)
    """The ``process`` label of every sample (see the module's docstring)."""
    requests: Counter = attrs.field(init=False)
    request_seconds: Histogram = attrs.field(init=False)
    first_event_seconds: Histogram = attrs.field(init=False)
    stream_seconds: Histogram = attrs.field(init=False)
    active_streams: Gauge = attrs.field(init=False)
    rate_limited: Counter = attrs.field(init=False)
    agent_run_seconds: Histogram = attrs.field(init=False)
    tool_calls: Counter = attrs.field(init=False)
    feedback: Counter = attrs.field(init=False)
    _exposed: _ProcessLabelled = attrs.field(init=False)

    def __attrs_post_init__(self) -> None:
        r = self.registry
        self._exposed = _ProcessLabelled(r, self.process)
        self.requests = Counter(
            "robolearn_requests",
            "ChatKit requests by type and HTTP status",
            ["type", "status"],
            registry=r,
        )
        self.request_seconds = Histogram(
            "robolearn_request_seconds",
            "Time to answer non-streaming requests",
            ["type"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.first_event_seconds = Histogram(
            "robolearn_stream_first_event_seconds",
            "Time from request to the first SSE event",
            ["type"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.stream_seconds = Histogram(
            "robolearn_stream_seconds",
            "Total time of streamed answers",
            ["type"],
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.active_streams = Gauge(
            "robolearn_active_streams", "Answers streaming to clients now", registry=r
        )
        self.rate_limited = Counter(
            "robolearn_rate_limited",
            "Requests refused by a rate or stream limit",
            ["reason"],
            registry=r,
        )
        self.agent_run_seconds = Histogram(
            "robolearn_agent_run_seconds",
            "Duration of agent runs (model + tools)",
            buckets=_LATENCY_BUCKETS,
            registry=r,
        )
        self.tool_calls = Counter(
            "robolearn_tool_calls", "Tool calls made by the agent", ["tool"], registry=r
        )
        self.feedback = Counter(
            "robolearn_feedback",
            "Votes on answers (items.feedback) recorded, by kind",
            ["kind"],
            registry=r,
        )
        for kind in ("positive", "negative"):  # both series exist from the start, at 0
            self.feedback.labels(kind)

    def agent_run_finished(self, seconds: float) -> None:
        self.agent_run_seconds.observe(seconds)

    def tool_called(self, name: str) -> None:
        self.tool_calls.labels(name).inc()

    def feedback_recorded(self, kind: str, votes: int) -> None:
        self.feedback.labels(kind).inc(votes)

    def watch(
        self, prefix: str, help_text: str, snapshot: Callable[[], Mapping[str, float]]
    ) -> None:
        """Export ``snapshot()``'s numbers as gauges ``<prefix>_<name>`` at each scrape."""
        self.registry.register(_SnapshotCollector(prefix, help_text, snapshot))

    def watch_counter(self, name: str, help_text: str, read: Callable[[], float]) -> None:
        """Export ``read()``, a count that only grows, as the counter ``<name>_total``."""
        self.registry.register(_CounterCollector(name, help_text, read))

    def render(self) -> bytes:
        return generate_latest(self._exposed)

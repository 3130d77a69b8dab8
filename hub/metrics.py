"""The hub's Prometheus metrics, one registry per hub so plugins add theirs beside the host's."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    GCCollector,
    Histogram,
    PlatformCollector,
    ProcessCollector,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from hub.timers import TimerRegistry

QueueDepths = Callable[[], list[tuple[str, int]]]
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")


class TimerCollector(Collector):
    def __init__(self, timers: TimerRegistry) -> None:
        self.timers = timers

    def collect(self) -> Iterator[CounterMetricFamily | GaugeMetricFamily]:
        runs = CounterMetricFamily("hub_timer_runs", "Runs of each periodic job", labels=["timer"])
        fails = CounterMetricFamily(
            "hub_timer_failures", "Failed runs of each periodic job", labels=["timer"]
        )
        last = GaugeMetricFamily(
            "hub_timer_last_duration_seconds", "Duration of the last run", labels=["timer"]
        )
        for timer in self.timers.timers.values():
            runs.add_metric([timer.key], timer.runs)
            fails.add_metric([timer.key], timer.failures)
            last.add_metric([timer.key], timer.last_duration or 0.0)
        yield runs
        yield fails
        yield last


class QueueCollector(Collector):
    def __init__(self, depths: QueueDepths) -> None:
        self.depths = depths

    def collect(self) -> Iterator[GaugeMetricFamily]:
        gauge = GaugeMetricFamily(
            "hub_queue_depth", "Pending items of each background queue", labels=["queue"]
        )
        for name, depth in self.depths():
            gauge.add_metric([name], depth)
        yield gauge


class HubMetrics:
    def __init__(self, timers: TimerRegistry, queue_depths: QueueDepths) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hub_http_requests",
            "HTTP requests served",
            ["plugin", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hub_http_request_duration_seconds",
            "HTTP request latency",
            ["plugin"],
            registry=self.registry,
        )
        self.grpc_calls = Counter(
            "hub_grpc_calls", "gRPC calls served", ["method", "code"], registry=self.registry
        )
        self.connections_open = Gauge(
            "hub_http_connections_open",
            "Open HTTP connections",
            ["listener"],
            registry=self.registry,
        )
        self.connections_refused = Counter(
            "hub_http_connections_refused",
            "HTTP connections refused because the listener had http_max_connections open",
            ["listener"],
            registry=self.registry,
        )
        self.header_timeouts = Counter(
            "hub_http_header_timeouts",
            "HTTP connections closed for want of a complete request head in http_header_timeout",
            ["listener"],
            registry=self.registry,
        )
        self.upstream_requests = Counter(
            "hub_upstream_requests",
            "Requests sent to a vendor in upstream mode, by the vendor's status",
            ["source", "status"],
            registry=self.registry,
        )
        self.upstream_cache = Counter(
            "hub_upstream_cache",
            "Upstream reads by outcome: hit, revalidate (served, refreshing), stale, miss",
            ["source", "result"],
            registry=self.registry,
        )
        self.upstream_budget_waits = Counter(
            "hub_upstream_budget_waits",
            "Fetches that waited for a budget slot",
            ["source"],
            registry=self.registry,
        )
        self.upstream_coalesced = Counter(
            "hub_upstream_coalesced_waiters",
            "Readers that shared a fetch already in flight",
            ["source"],
            registry=self.registry,
        )
        # label values come from closed sets, whatever clients send: see observe_request
        self.http_methods = set(HTTP_METHODS)
        self.registry.register(TimerCollector(timers))
        self.registry.register(QueueCollector(queue_depths))
        # the hub process itself: CPU, memory, file descriptors, start time, Python, GC
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        GCCollector(registry=self.registry)
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def count_methods(self, methods: Iterable[str]) -> None:
        """Methods that get a label value of their own besides the standard ones (a plugin's
        extension methods, e.g. ERA's LOOKUP); any other is counted as ``other``."""
        self.http_methods.update(m for m in methods if m != "*")

    def observe_request(self, plugin: str, method: str, status: int, seconds: float) -> None:
        """``plugin`` is a loaded plugin or ``hub`` (the caller's closed set)."""
        if method not in self.http_methods:
            method = "other"
        key = (plugin, method, status)
        children = self._children.get(key)
        if children is None:  # labels() costs more than the increment: keep the children
            children = (
                self.requests.labels(plugin, method, str(status)),
                self.latency.labels(plugin),
            )
            if len(self._children) < 10_000:
                self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

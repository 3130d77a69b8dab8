"""The hub's Prometheus metrics, one registry per hub so plugins add theirs beside the host's.

In a multi-worker hub the supervisor sets ``PROMETHEUS_MULTIPROC_DIR`` for every worker before
anything is imported: prometheus_client then keeps each worker's counters, gauges and histograms
in files there, and any worker's ``/metrics`` reads them all (:class:`EveryWorkerRegistry`)."""

from __future__ import annotations

import glob
import os
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
    disable_created_metrics,
    values,
)
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.metrics import MetricWrapperBase
from prometheus_client.multiprocess import MultiProcessCollector, mark_process_dead
from prometheus_client.registry import Collector

if TYPE_CHECKING:
    from hub.timers import TimerRegistry

# a counter's `_created` sample is a timestamp that scrapers store as one more gauge series per
# counter; nothing here reads it, and a multi-worker hub could not give it anyway
disable_created_metrics()

QueueDepths = Callable[[], list[tuple[str, int]]]
HTTP_METHODS = ("GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "CONNECT", "TRACE")
# a live worker's mark in the shared directory: its index and (a label the files add) its pid
LIVE_WORKER = "hub_worker_live"


def workers_directory() -> str | None:
    """The directory where every worker writes its values, in a multi-worker hub; ``None`` in a
    single process (values are then in memory, as prometheus_client chose at its import)."""
    if not getattr(values.ValueClass, "_multiprocess", False):
        return None
    return os.environ.get("PROMETHEUS_MULTIPROC_DIR")


def worker_exited(pid: int, directory: str) -> None:
    """The supervisor's call when the worker ``pid`` has exited: its open connections and its
    ``process_*`` series go; what it counted stays in the hub's totals. ``directory``: the
    ``PROMETHEUS_MULTIPROC_DIR`` the supervisor gave its workers."""
    mark_process_dead(pid, directory)


def _every_worker(directory: str, pattern: str = "*.db") -> dict[str, Metric]:
    files = glob.glob(os.path.join(directory, pattern))
    return {family.name: family for family in MultiProcessCollector.merge(files)}


class EveryWorkerRegistry(CollectorRegistry):
    """The registry of a multi-worker hub's worker. The families of its counters, gauges and
    histograms (the host's and the plugins') are summed over every worker, dead ones' counts
    included, from the files in ``directory``; its other collectors read state the workers
    share (SQLite: queue depths, timers, a plugin's own) and are collected once, here."""

    def __init__(self, directory: str) -> None:
        super().__init__()
        self.directory = directory
        self.shared_names: set[str] = set()

    def register(self, collector: Collector) -> None:
        super().register(collector)
        if isinstance(collector, MetricWrapperBase):
            self.shared_names.update(family.name for family in collector.describe())

    def collect(self) -> Iterator[Metric]:
        every = _every_worker(self.directory)
        for family in super().collect():
            if family.name not in self.shared_names:
                yield family
                continue
            # a family no worker has a sample of yet is listed empty, as in one process
            empty = Metric(family.name, family.documentation, family.type, family.unit)
            yield every.get(family.name, empty)


class WorkerProcesses(Collector):
    """``process_*`` of every live worker, labelled ``worker`` (its index), read from
    ``/proc/<pid>`` by whichever worker answers: one process's CPU, memory and start time do not
    sum into a hub's, and a series that moved from worker to worker would look like restarts."""

    def __init__(self, directory: str, worker: str) -> None:
        self.directory = directory
        live = Gauge(
            LIVE_WORKER, "A live worker", ["worker"], multiprocess_mode="liveall", registry=None
        )
        live.labels(worker).set(1)

    def collect(self) -> Iterator[Metric]:
        marks = _every_worker(self.directory, "gauge_liveall_*.db").get(LIVE_WORKER)
        live = marks.samples if marks else []
        families: dict[str, Metric] = {}
        # a worker the supervisor has not yet marked dead has no /proc/<pid>: no samples
        for worker, pid in sorted((s.labels["worker"], s.labels["pid"]) for s in live):
            for family in _process(pid):
                into = families.setdefault(
                    family.name, Metric(family.name, family.documentation, family.type)
                )
                for sample in family.samples:
                    into.add_sample(sample.name, {**sample.labels, "worker": worker}, sample.value)
        yield from families.values()


def _process(pid: str) -> Iterable[Metric]:
    return ProcessCollector(pid=lambda: pid, registry=None).collect()


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
        for stats in self.timers.stats():  # a multi-worker hub's: every worker's runs
            key = f"{stats['plugin']}.{stats['name']}"
            runs.add_metric([key], stats["runs"])
            fails.add_metric([key], stats["failures"])
            last.add_metric([key], stats["last_duration"] or 0.0)
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
    def __init__(
        self, timers: TimerRegistry, queue_depths: QueueDepths, worker: int | None = None
    ) -> None:
        """``worker``: this worker's index in a multi-worker hub (its ``process_*`` label; the
        pid if it has none)."""
        directory = workers_directory()
        self.registry = CollectorRegistry() if directory is None else EveryWorkerRegistry(directory)
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
            multiprocess_mode="livesum",  # every live worker's, summed
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
        self.body_timeouts = Counter(
            "hub_http_body_timeouts",
            "HTTP requests answered 408 because their body paused longer than http_body_timeout",
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
        # the hub process itself: CPU, memory, file descriptors, start time, Python, GC; in a
        # multi-worker hub each worker's process, and no GC statistics (one process's only)
        if directory is None:
            ProcessCollector(registry=self.registry)
        else:
            label = str(os.getpid() if worker is None else worker)
            self.registry.register(WorkerProcesses(directory, label))
        PlatformCollector(registry=self.registry)
        if directory is None:
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

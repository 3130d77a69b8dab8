"""``/metrics`` of a multi-worker hub: every worker's counts, summed, from whichever worker answers.

Workers are real processes started by spawn with ``PROMETHEUS_MULTIPROC_DIR`` set, as the
supervisor starts them; the functions they run are at the top of this module."""

from __future__ import annotations

import multiprocessing
import os
import re
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families

from hub.metrics import HubMetrics, worker_exited
from hub.timers import TimerRegistry
from tests.promtool import promtool_check

WAIT = 60.0


def _metrics(worker: int) -> HubMetrics:
    timers = TimerRegistry()
    timers.add("hub", "tick", 60, lambda: None)
    return HubMetrics(timers, lambda: [("era.outbox", 3)], worker)


def count(worker: int, requests: int, connections: int, ready: Any, done: Any) -> None:
    """A worker: serves ``requests`` requests and holds ``connections`` open until ``done``."""
    metrics = _metrics(worker)
    for _ in range(requests):
        metrics.observe_request("era", "GET", 200, 0.01)
    metrics.grpc_calls.labels("/hub.v1.Hub/ListPlugins", "OK").inc()
    for _ in range(connections):
        metrics.connections_open.labels("main").inc()
    ready.put(os.getpid())
    done.wait(WAIT)


def expose(worker: int, answer: Any) -> None:
    """A worker answering ``GET /metrics``."""
    answer.put((os.getpid(), generate_latest(_metrics(worker).registry).decode()))


def samples(text: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(text)
        for s in family.samples
    }


def value(
    found: dict[tuple[str, frozenset[tuple[str, str]]], float], name: str, **labels: str
) -> float | None:
    return found.get((name, frozenset(labels.items())))


def workers_of(text: str, family: str) -> list[str]:
    return sorted(re.findall(rf'^{family}\{{worker="([^"]+)"\}}', text, re.M))


def test_metrics_of_every_worker_from_any_worker(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    directory = tmp_path / "metrics"
    directory.mkdir()
    monkeypatch.setenv("PROMETHEUS_MULTIPROC_DIR", str(directory))
    ctx = multiprocessing.get_context("spawn")
    ready, done, answer = ctx.Queue(), ctx.Event(), ctx.Queue()
    workers = [
        ctx.Process(target=count, args=(i, n, c, ready, done), daemon=True)
        for i, n, c in ((0, 3, 2), (1, 5, 3))
    ]
    try:
        for worker in workers:
            worker.start()
        pids = [ready.get(timeout=WAIT) for _ in workers]

        # a third worker answers while the two are up
        ctx.Process(target=expose, args=(2, answer)).start()
        answering, text = answer.get(timeout=WAIT)
        found = samples(text)
        era = {"plugin": "era", "method": "GET", "status": "200"}
        assert value(found, "hub_http_requests_total", **era) == 8
        assert value(found, "hub_http_request_duration_seconds_count", plugin="era") == 8
        grpc = {"method": "/hub.v1.Hub/ListPlugins", "code": "OK"}
        assert value(found, "hub_grpc_calls_total", **grpc) == 2
        assert value(found, "hub_http_connections_open", listener="main") == 5
        # computed from shared state: once, not once per worker
        assert value(found, "hub_queue_depth", queue="era.outbox") == 3
        assert text.count("\nhub_queue_depth{") == 1
        assert text.count("\nhub_timer_runs_total{") == 1
        # each live worker's process, labelled; one python_info; no GC (one process's only)
        for family in ("process_start_time_seconds", "process_resident_memory_bytes"):
            assert workers_of(text, family) == ["0", "1", "2"], family
        assert text.count("\npython_info{") == 1 and "python_gc_" not in text
        assert "hub_worker_live" not in text and "pid=" not in text
        names = re.findall(r"^# TYPE (\S+) ", text, re.M)
        assert len(names) == len(set(names))
        promtool_check(text)
    finally:
        done.set()
        for worker in workers:
            worker.join(WAIT)
            if worker.is_alive():
                worker.kill()
    assert [worker.exitcode for worker in workers] == [0, 0]

    # the supervisor's bookkeeping for the two that exited; worker 2 is replaced before its own
    for pid in pids:
        worker_exited(pid, str(directory))
    ctx.Process(target=expose, args=(2, answer)).start()
    replacement, text = answer.get(timeout=WAIT)
    assert replacement != answering
    found = samples(text)
    assert value(found, "hub_http_requests_total", **era) == 8  # what they counted stays
    assert value(found, "hub_http_connections_open", listener="main") is None  # closed with them
    assert workers_of(text, "process_start_time_seconds") == ["2"]  # the live one only
    promtool_check(text)


def test_one_process_keeps_its_own_registry() -> None:
    """No ``PROMETHEUS_MULTIPROC_DIR``: the process's own families, as a one-process hub has."""
    text = generate_latest(HubMetrics(TimerRegistry(), list).registry).decode()
    assert "\nprocess_start_time_seconds " in text and "\npython_gc_collections_total{" in text
    assert "worker=" not in text

"""What the operators' status page at ``/`` shows, as one JSON-able snapshot: every plugin's
health (its probes; an upstream's probe says when the vendor last answered), queue depths and
dead letters, the request rate, the plugins' :class:`~hub.registrations.StatusPanel` data, and
the last hour of samples the page plots.

Samples are kept in memory, one every :data:`SAMPLE_SECONDS`, by each process. In a
multi-worker hub each worker samples its own view of the state the workers share (queues and
panels read SQLite, so they agree); the request rate is read from ``/metrics``' totals, which
there are the whole hub's."""

from __future__ import annotations

import asyncio
import inspect
import logging
import time
from collections import deque
from collections.abc import AsyncIterator, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson

from hub.health import plugin_status
from hub.outage import is_outage, log_failure
from hub.queue import WorkQueue
from hub.registrations import PanelData, StatusPanel

log = logging.getLogger("hub.status")
SAMPLE_SECONDS = 10.0
KEPT_SAMPLES = 360  # an hour
REQUESTS = "hub_http_requests"


def _iso(at: float) -> str:
    return datetime.fromtimestamp(at, UTC).isoformat(timespec="seconds")


def requests_served(families: Iterable[Any]) -> float:
    """Every HTTP request the hub has answered, from its ``/metrics`` registry."""
    for family in families:
        if family.name == REQUESTS:
            return float(sum(s.value for s in family.samples if s.name.endswith("_total")))
    return 0.0


def dotted(data: Any, path: str) -> float | None:
    """The number at ``a.b.c`` in a panel's data, or None (absent, or not a number)."""
    for part in path.split("."):
        if not isinstance(data, dict):
            return None
        data = data.get(part)
    if isinstance(data, bool) or not isinstance(data, int | float):
        return None
    return float(data)


class StatusService:
    """One per hub (``hub.service(StatusService)``); :meth:`sample` runs on the host's timers."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub
        self.samples: deque[dict[str, Any]] = deque(maxlen=KEPT_SAMPLES)
        self._served: tuple[float, float] | None = None  # (monotonic, total) at the last sample

    # -- the parts ---------------------------------------------------------------------------
    def queues(self) -> list[dict[str, Any]]:
        """Depth of every queue; dead letters of the durable ones (None for the others)."""
        kinds = {f"{plugin}.{queue.name}": queue for plugin, queue in self.hub.queues}
        found = []
        for name, depth in self.hub.queue_depths():
            queue = kinds.get(name)
            dead = None
            if isinstance(queue, WorkQueue):
                try:
                    dead = queue.dead()
                except Exception as exc:
                    log_failure(log, exc, "queue %s: counting dead letters failed", name)
                    dead = -1
            found.append({"name": name, "depth": depth, "dead": dead})
        return found

    async def panels(self) -> list[dict[str, Any]]:
        """Each plugin's panel; one that fails shows its error rather than hide the others."""
        found = []
        for plugin, panel in self.hub.status_panels:
            found.append({"plugin": plugin, "name": panel.name, **await self._collect(panel)})
        return found

    @staticmethod
    async def _collect(panel: StatusPanel) -> dict[str, Any]:
        try:
            data = panel.collect()
            if inspect.isawaitable(data):
                data = await data
            # as plain JSON: a value JSON cannot carry (a set, a key that is not a string) is
            # this panel's error, not a failure of the whole snapshot (a 500 for the page)
            return {"data": orjson.loads(orjson.dumps(data)), "error": None}
        except Exception as exc:
            log.warning("status panel %s failed: %s", panel.name, exc, exc_info=not is_outage(exc))
            return {"data": None, "error": f"{type(exc).__name__}: {exc}"}

    def _request_rate(self, total: float) -> float | None:
        """Requests per second since the previous sample (None for the first)."""
        now = time.monotonic()
        previous, self._served = self._served, (now, total)
        if previous is None or now <= previous[0]:
            return None
        return max(0.0, total - previous[1]) / (now - previous[0])

    # -- what the timer and the page call ----------------------------------------------------
    async def sample(self) -> None:
        """One point of the plots: request rate, queue depths, the panels' plotted numbers."""
        rate = self._request_rate(requests_served(self.hub.metrics.registry.collect()))
        series: dict[str, float | None] = {}
        for plugin, panel in self.hub.status_panels:
            if panel.plot:
                data = (await self._collect(panel))["data"]
                for path in panel.plot:
                    series[f"{plugin}.{panel.name}.{path}"] = dotted(data, path)
        self.samples.append(
            {
                "at": time.time(),
                "requests_per_second": rate,
                "queues": {q["name"]: q["depth"] for q in self.queues()},
                "series": series,
            }
        )

    async def snapshot(self, since: float | None = None) -> dict[str, Any]:
        """Everything the page shows; ``samples`` holds the points taken after ``since``
        (every kept one when None)."""
        results = await self.hub.health()
        plugins = [
            {
                "plugin": name,
                "status": plugin_status(results, name),
                "probes": [
                    {k: r[k] for k in ("name", "status", "detail", "critical")}
                    for r in results
                    if r["plugin"] == name
                ],
            }
            for name in self.hub.plugins
        ]
        upstreams = [
            {"plugin": r["plugin"], "status": r["status"], "detail": r["detail"]}
            for r in results
            if r["name"] == "upstream" and r["plugin"] in self.hub.upstreams
        ]
        panels = await self.panels()
        now = time.time()  # no await from here on: no sample lands between it and the list
        return {
            "at": _iso(now),
            "now": now,
            "instance": self.hub.instance_id,
            "worker": self.hub.worker,
            "started_at": _iso(self.hub.started_at),
            "ready": not any(r["status"] == "down" and r["critical"] for r in results),
            "plugins": plugins,
            "upstreams": upstreams,
            "queues": self.queues(),
            "panels": panels,
            "sample_seconds": SAMPLE_SECONDS,
            "samples": [s for s in self.samples if since is None or s["at"] > since],
        }

    async def snapshots(self, interval: float) -> AsyncIterator[PanelData]:
        """A snapshot now and every ``interval`` seconds; after the first, only new samples."""
        since: float | None = None
        while True:
            snapshot = await self.snapshot(since)
            since = snapshot["now"]
            yield snapshot
            await asyncio.sleep(interval)

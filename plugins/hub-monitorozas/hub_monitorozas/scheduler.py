"""The monitor: every enabled device and blacklist monitor is a row of the host's work queue
``monitorozas.checks`` (``hub.queue``), due at its ``next_check_at``. The queue's consumer (the
timer ``monitorozas.scheduler``) leases the due rows and runs their checks here; each result is
stored in the transaction that settles the row, due again one interval after it was claimed."""

from __future__ import annotations

import asyncio
import functools
import logging
import ssl
import time
from dataclasses import dataclass
from typing import Any

import dns.asyncresolver
from prometheus_client import Counter

from hub.api import HubApi
from hub.queue import Backoff, Claim, Outcome, Table, WorkQueue, later
from hub.storage import Database
from hub_monitorozas import checks, dnsbl, storage
from hub_monitorozas.events import StatusEvents
from hub_monitorozas.records import Device, StatusChange
from hub_monitorozas.settings import MonitorozasSettings
from hub_monitorozas.storage import DEVICES, MONITORS

log = logging.getLogger("hub_monitorozas")
GOLDEN = 0.6180339887498949  # spreads first checks evenly over the interval, id by id


class Scheduler:
    def __init__(
        self,
        hub: HubApi,
        settings: MonitorozasSettings,
        database: Database,
        events: StatusEvents,
    ) -> None:
        self.settings = settings
        self.database = database
        self.events = events
        self._tls: ssl.SSLContext | None = None
        self._resolver: dns.asyncresolver.Resolver | None = None
        self._semaphore: asyncio.Semaphore | None = None
        # a check lost with its process is taken over one interval on, when the old check
        # would have been due again
        schedule = functools.partial(
            Table, where="is_enabled = 1", state=None, due="next_check_at", error=None, dead_at=None
        )
        self.queue = WorkQueue(
            database,
            "checks",
            self._check_due,
            schedule(DEVICES.table),
            schedule(MONITORS.table),
            interval=settings.scheduler_tick,
            lease=settings.interval,
            concurrency=2 * settings.concurrency,
            backoff=Backoff(settings.interval, settings.interval),
            job="scheduler",
        )
        self.checks_done = Counter(
            "hub_monitorozas_checks",
            "Device checks and DNSBL look-ups finished, by kind and result",
            ["kind", "status"],
            registry=hub.metrics.registry,
        )

    def first_device_check(self, device_id: int) -> float:
        return first_check(device_id, self.settings.interval)

    def first_blacklist_round(self, monitor_id: int) -> float:
        return first_check(monitor_id, self.settings.blacklist_interval)

    @property
    def tls(self) -> ssl.SSLContext:
        if self._tls is None:
            self._tls = checks.trust_store(self.settings.ca_file)
        return self._tls

    @property
    def resolver(self) -> dns.asyncresolver.Resolver:
        if self._resolver is None:
            s = self.settings
            self._resolver = dnsbl.make_resolver(s.resolver, s.resolver_port, s.timeout)
        return self._resolver

    @property
    def semaphore(self) -> asyncio.Semaphore:
        if self._semaphore is None:
            self._semaphore = asyncio.Semaphore(self.settings.concurrency)
        return self._semaphore

    def pending(self) -> int:
        """Checks due or in flight (the depth of the ``monitorozas.checks`` work queue)."""
        return self.queue.pending()

    def run_due(self) -> int:
        """Start the checks that are due now, as the timer ``monitorozas.scheduler`` does every
        ``scheduler_tick``; returns how many it started."""
        return self.queue.start_due()

    async def check_now(self, device: Device) -> None:
        """Check ``device`` at once (within the concurrency bound) and store the result."""
        result = DeviceResult(self, device.id, await self._check_device(device))
        with self.database.write() as db:
            result.store(db)
        result.announce()

    async def _check_due(self, claim: Claim) -> Outcome:
        """One due row of the ``checks`` queue: check it and store the result; the row's next
        check comes one interval after this one was claimed."""
        if claim.table == MONITORS.table:
            return await self._blacklist_round(claim)
        next_at = claim.claimed_at + self.settings.interval
        device = storage.find(self.database, DEVICES, claim.key)
        if device is None:
            return later(next_at)  # deleted meanwhile: the settle finds no row
        result = DeviceResult(self, device.id, await self._check_device(device))
        return later(next_at, write=result.store, then=result.announce)

    async def _check_device(self, device: Device) -> checks.Outcome:
        async with self.semaphore:
            try:
                return await checks.run_device(
                    device,
                    tls=self.tls,
                    timeout=self.settings.timeout,
                    user_agent=self.settings.user_agent,
                )
            except Exception as exc:  # a bug in a check must not stop the monitor
                log.exception("check of device %s failed", device.id)
                return checks.Outcome("down", f"check failed: {type(exc).__name__}", 0)

    async def _blacklist_round(self, claim: Claim) -> Outcome:
        next_at = claim.claimed_at + self.settings.blacklist_interval
        monitor = storage.find(self.database, MONITORS, claim.key)
        if monitor is None:
            return later(next_at)
        settings = self.settings
        zones = settings.ip_zones if monitor.target_type == "ip" else settings.domain_zones
        async with self.semaphore:
            try:
                verdict = await dnsbl.look_up(
                    self.resolver, monitor.target_type, monitor.target_value, zones
                )
            except Exception as exc:
                log.exception("DNSBL look-up of monitor %s failed", claim.key)
                verdict = dnsbl.Verdict("error", [], f"look-up failed: {type(exc).__name__}")
        return later(
            next_at,
            storage.blacklist_round_columns(verdict),
            write=lambda db: MONITORS.refresh_doc(db, int(claim.key)),
            then=self.checks_done.labels("blacklist", verdict.status).inc,
        )


def first_check(row_id: int, interval: float) -> float:
    """A new row's first check: at a point of the interval fixed by its id, so rows created
    together are spread over the interval instead of checked in a burst."""
    return time.time() + ((row_id * GOLDEN) % 1.0) * interval


@dataclass
class DeviceResult:
    """One device check's result: stored in the transaction that settles the check, then
    counted and, when the status changed, published to the status subscribers."""

    scheduler: Scheduler
    device_id: int
    outcome: checks.Outcome
    previous: str | None = None  # the status before; None while unstored or if deleted

    def store(self, db: Any) -> None:
        keep = self.scheduler.settings.history_size
        self.previous = storage.store_device_check(db, self.device_id, self.outcome, keep)

    def announce(self) -> None:
        if self.previous is None:
            return
        scheduler = self.scheduler
        scheduler.checks_done.labels("device", self.outcome.status).inc()
        if self.previous != self.outcome.status:
            updated = storage.find(scheduler.database, DEVICES, self.device_id)
            if updated is not None:
                scheduler.events.publish(StatusChange(updated, self.previous))

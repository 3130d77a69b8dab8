"""The one service layer of ``monitorozas``: REST, GraphQL and gRPC call this and nothing else.
Every operation takes the :class:`~hub.caller.Caller` first and checks it (``auth``) before
anything else, and returns the typed records of ``records`` (REST's lists excepted: stored JSON
served as it is). The work lives in the topic modules: ``inventory`` (devices and blacklist
monitors, ``service.devices`` and ``service.monitors``), ``scheduler`` (the checks),
``events`` (status changes), ``storage`` (queries), ``validation`` (the seed's field table).
In upstream mode ``upstream`` answers the records and ``me`` from the vendor instead, and the
vendor runs the checks."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from hub.api import HubApi
from hub.caller import Caller, while_admitted
from hub.paging import Page
from hub.records import ISO_Z
from hub_monitorozas import storage, validation
from hub_monitorozas.auth import KeyGate, KeyHolder
from hub_monitorozas.errors import error, invalid_field, storage_errors
from hub_monitorozas.events import StatusEvents
from hub_monitorozas.inventory import Inventory, LocalRecords, Records
from hub_monitorozas.records import BlacklistMonitor, CheckResult, Device, Identity, StatusChange
from hub_monitorozas.scheduler import Scheduler
from hub_monitorozas.settings import PLUGIN, MonitorozasSettings
from hub_monitorozas.storage import DEVICES, MONITORS

if TYPE_CHECKING:
    from hub_monitorozas.upstream import VendorAccount


def page(offset: int | None, limit: int | None, *, limit_name: str = "limit") -> Page:
    """The host's paging bounds (``hub.paging``) with this plugin's error code."""
    return Page.of(offset, limit, invalid_field, limit_name=limit_name)


class MonitorozasService:
    """Built once per hub by ``hub.service(MonitorozasService)``."""

    def __init__(self, hub: HubApi) -> None:
        self.settings: MonitorozasSettings = hub.settings_for(PLUGIN) or MonitorozasSettings()
        self.database = hub.database(PLUGIN)
        self.gate = KeyGate(hub, self.settings)
        self.events = StatusEvents(hub.events)
        self.scheduler = Scheduler(hub, self.settings, self.database, self.events)
        self.devices: Inventory[Device] = Inventory(
            self.database,
            self.gate,
            DEVICES,
            noun="device",
            validate=validation.device,
            duplicate="a device with this target_type, target_value, service_type, scheme and"
            " port already exists",
            first_check=self.scheduler.first_device_check,
        )
        self.monitors: Inventory[BlacklistMonitor] = Inventory(
            self.database,
            self.gate,
            MONITORS,
            noun="blacklist monitor",
            validate=validation.blacklist_monitor,
            duplicate="a blacklist monitor with this target_type and target_value already exists",
            first_check=self.scheduler.first_blacklist_round,
        )
        self.upstream: VendorAccount | None = None
        self.device_records: Records[Device] = LocalRecords(self.devices)
        self.monitor_records: Records[BlacklistMonitor] = LocalRecords(self.monitors)
        if self.settings.mode == "upstream":
            from hub_monitorozas.upstream import DEVICE_RESOURCE, MONITOR_RESOURCE, VendorAccount

            self.upstream = VendorAccount(hub, self.settings, self.events)
            self.device_records = self.upstream.records(DEVICE_RESOURCE, self.devices)
            self.monitor_records = self.upstream.records(MONITOR_RESOURCE, self.monitors)

    def authorize(self, caller: Caller) -> KeyHolder:
        """The caller's key, checked once per caller; adapters call it before they read the
        request, so a stranger learns nothing from a 400."""
        return self.gate.authorize(caller)

    async def me(self, caller: Caller) -> Identity:
        """The key's identity; in upstream mode the vendor's for the key the hub acts with."""
        holder = self.authorize(caller).require("read")
        if self.upstream is not None:
            return await self.upstream.me(caller)
        return holder.identity()

    def _local_only(self, what: str) -> None:
        """The checks, their history and check-now are the vendor's in upstream mode, and its
        API has neither."""
        if self.upstream is not None:
            raise error(
                409,
                f"monitorozas fronts a Monitorozás.hu deployment (mode = upstream): the vendor"
                f" runs the checks and its API has no {what}",
                "upstream_mode",
            )

    # -- a device's checks -------------------------------------------------------------------
    @storage_errors
    def history(
        self, caller: Caller, device_id: Any, limit: int | None = None
    ) -> list[CheckResult]:
        holder = self.authorize(caller).require("read")
        self._local_only("check history")
        device = self.devices.find(holder, device_id)
        return self.device_history(device.id, limit)

    def device_history(
        self, device_id: int, limit: int | None = None, limit_name: str = "limit"
    ) -> list[CheckResult]:
        """Newest first; every kept result unless ``limit`` (the host's paging bounds) says.
        For a device already read by its caller (GraphQL's ``device { history }``)."""
        self._local_only("check history")
        size = (
            self.settings.history_size
            if limit is None
            else page(0, limit, limit_name=limit_name).limit
        )
        return storage.history(self.database, device_id, size)

    @storage_errors
    async def check_now(self, caller: Caller, device_id: Any) -> Device:
        """Check the device at once (within the concurrency bound) and return it updated."""
        holder = self.authorize(caller).require("write")
        self._local_only("check-now")
        device = self.devices.find(holder, device_id)
        await self.scheduler.check_now(device)
        return self.devices.find(holder, device.id)

    # -- status events and the monitor -------------------------------------------------------
    def status_changes(self, caller: Caller) -> AsyncIterator[StatusChange]:
        """Each change of a device's status from now on: the caller's devices (all for the
        admin, and for everyone in upstream mode, where every key sees the vendor account's)."""
        holder = self._reader(caller)
        changes = self.events.seen_by(None if self.upstream is not None else holder.owner)
        return while_admitted(caller, self._reader, changes)

    def _reader(self, caller: Caller) -> KeyHolder:
        return self.authorize(caller).require("read")

    @property
    def subscribers(self) -> int:
        return self.events.subscribers

    def pending(self) -> int:
        return self.scheduler.pending()

    async def run_due(self) -> int:
        return self.scheduler.run_due()

    def counts(self) -> tuple[int, int]:
        return storage.counts(self.database)

    def status_panel(self) -> dict[str, Any]:
        """The operators' status page: enabled devices by last status, and the response times
        of the checks kept from the last :data:`LATENCY_WINDOW` seconds (in milliseconds)."""
        rows = self.database.execute(
            "SELECT last_status, count(*) FROM devices WHERE is_enabled = 1 GROUP BY last_status"
        ).fetchall()
        devices = {"up": 0, "down": 0, "unknown": 0} | {str(s): int(n) for s, n in rows}
        since = ISO_Z.format(time.time() - LATENCY_WINDOW)
        times = sorted(
            int(row[0])
            for row in self.database.execute(
                "SELECT response_ms FROM device_checks WHERE checked_at >= ?"
                " AND response_ms IS NOT NULL",
                (since,),
            )
        )
        latency = {
            "checks": len(times),
            "p50": _percentile(times, 0.5),
            "p95": _percentile(times, 0.95),
            "max": times[-1] if times else None,
        }
        return {"devices": devices, "check_latency_ms": latency}


LATENCY_WINDOW = 300


def _percentile(ordered: list[int], fraction: float) -> int | None:
    """Nearest rank; None for no values."""
    if not ordered:
        return None
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]

"""The one service layer of ``monitorozas``: REST, GraphQL and gRPC call this and nothing else.
Every operation takes the :class:`~hub.caller.Caller` first and checks it (``auth``) before
anything else, and returns the typed records of ``records`` (REST's lists excepted: stored JSON
served as it is). The work lives in the topic modules: ``inventory`` (devices and blacklist
monitors, ``service.devices`` and ``service.monitors``), ``scheduler`` (the checks),
``events`` (status changes), ``storage`` (queries), ``validation`` (the seed's field table)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from hub.api import HubApi
from hub.caller import Caller
from hub.paging import Page
from hub_monitorozas import storage, validation
from hub_monitorozas.auth import KeyGate, KeyHolder
from hub_monitorozas.errors import invalid_field, storage_errors
from hub_monitorozas.events import StatusEvents
from hub_monitorozas.inventory import Inventory
from hub_monitorozas.records import BlacklistMonitor, CheckResult, Device, Identity, StatusChange
from hub_monitorozas.scheduler import Scheduler
from hub_monitorozas.settings import PLUGIN, MonitorozasSettings
from hub_monitorozas.storage import DEVICES, MONITORS


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

    def authorize(self, caller: Caller) -> KeyHolder:
        """The caller's key, checked once per caller; adapters call it before they read the
        request, so a stranger learns nothing from a 400."""
        return self.gate.authorize(caller)

    def me(self, caller: Caller) -> Identity:
        return self.authorize(caller).require("read").identity()

    # -- a device's checks -------------------------------------------------------------------
    @storage_errors
    def history(
        self, caller: Caller, device_id: Any, limit: int | None = None
    ) -> list[CheckResult]:
        device = self.devices.find(self.authorize(caller).require("read"), device_id)
        return self.device_history(device.id, limit)

    def device_history(
        self, device_id: int, limit: int | None = None, limit_name: str = "limit"
    ) -> list[CheckResult]:
        """Newest first; every kept result unless ``limit`` (the host's paging bounds) says.
        For a device already read by its caller (GraphQL's ``device { history }``)."""
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
        device = self.devices.find(holder, device_id)
        await self.scheduler.check_now(device)
        return self.devices.find(holder, device.id)

    # -- status events and the monitor -------------------------------------------------------
    def status_changes(self, caller: Caller) -> AsyncIterator[StatusChange]:
        """Each change of a device's status from now on: the caller's devices (all for the
        admin)."""
        return self.events.seen_by(self.authorize(caller).require("read"))

    @property
    def subscribers(self) -> int:
        return self.events.subscribers

    def pending(self) -> int:
        return self.scheduler.pending()

    async def run_due(self) -> int:
        return self.scheduler.run_due()

    def counts(self) -> tuple[int, int]:
        return storage.counts(self.database)

"""Device status changes on the hub's event bus (topic ``monitorozas.device_status``), streamed
by GraphQL's ``monitorozasDeviceStatusChanged`` and gRPC's ``WatchDeviceStatus`` to the
device's owner and the admin (every subscriber in upstream mode, where every key sees the
vendor account's devices)."""

from __future__ import annotations

from collections.abc import AsyncIterator

from hub.events import EventBus
from hub_monitorozas.records import StatusChange

STATUS_TOPIC = "monitorozas.device_status"


class StatusEvents:
    def __init__(self, bus: EventBus) -> None:
        self.bus = bus

    def publish(self, change: StatusChange) -> None:
        self.bus.publish(STATUS_TOPIC, change)

    async def seen_by(self, owner: int | None) -> AsyncIterator[StatusChange]:
        """Each change from now on of a device of ``owner`` (every device: None)."""
        async for change in self.bus.subscribe(STATUS_TOPIC):
            if owner is None or change.device.user_id == owner:
                yield change

    @property
    def subscribers(self) -> int:
        return int(self.bus.subscribers(STATUS_TOPIC))

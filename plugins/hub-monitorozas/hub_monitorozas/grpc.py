"""gRPC service ``hub.monitorozas.v1.Monitorozas``, a thin adapter over
:class:`MonitorozasService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message

from hub.grpc.server import authorization
from hub.paging import Page
from hub.peer import Peer
from hub.records import sent_fields
from hub_monitorozas.service import Caller, MonitorozasService, page
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc


def to_message(cls: type[Message], data: dict[str, Any]) -> Any:
    """A REST dict as ``cls``: nulls stay unset, 0/1 flags become booleans."""
    fields: dict[str, Any] = {}
    for field in cls.DESCRIPTOR.fields:
        value = data.get(field.name)
        if value is None:
            continue
        if field.type == FieldDescriptor.TYPE_BOOL:
            value = bool(value)
        elif field.message_type is not None:  # nested messages: the caller fills them in
            continue
        fields[field.name] = value
    return cls(**fields)


def history_message(entry: dict[str, Any]) -> Any:
    result = to_message(pb.CheckResult, entry)
    result.checks.extend(to_message(pb.SubCheck, c) for c in entry["checks"])
    return result


def monitor_message(monitor: dict[str, Any]) -> Any:
    message = to_message(pb.BlacklistMonitor, monitor)
    message.listings.extend(pb.Listing(**item) for item in monitor["listings"])
    return message


class MonitorozasServicer(monitorozas_pb2_grpc.MonitorozasServicer):
    def __init__(self, hub: Any) -> None:
        self.service = hub.service(MonitorozasService)

    def _caller(self, context: grpc.aio.ServicerContext) -> Caller:
        return self.service.authorize(authorization(context), Peer.of_grpc(context))

    @staticmethod
    def _window(request: Any) -> Page:
        return page(request.offset, request.limit if request.HasField("limit") else None)

    async def Me(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(pb.MeResponse, self.service.me(self._caller(context)))

    async def ListDevices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        devices, total = self.service.list_devices(caller, self._window(request))
        return pb.ListDevicesResponse(
            devices=[to_message(pb.Device, d) for d in devices], total_count=total
        )

    async def GetDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(pb.Device, self.service.get_device(self._caller(context), request.id))

    async def GetDeviceHistory(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        limit = request.limit if request.HasField("limit") else None
        entries = self.service.history(self._caller(context), request.id, limit)
        return pb.HistoryResponse(results=[history_message(e) for e in entries])

    async def CreateDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        return to_message(pb.Device, self.service.create_device(caller, sent_fields(request)))

    async def DeleteDevice(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        result = self.service.delete_device(self._caller(context), request.id)
        return to_message(pb.DeleteResponse, result)

    async def CheckNow(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        device = await self.service.check_now(self._caller(context), request.id)
        return to_message(pb.Device, device)

    async def ListBlacklistMonitors(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        monitors, total = self.service.list_monitors(caller, self._window(request))
        return pb.ListBlacklistMonitorsResponse(
            blacklist_monitors=[monitor_message(m) for m in monitors],
            total_count=total,
        )

    async def GetBlacklistMonitor(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return monitor_message(self.service.get_monitor(self._caller(context), request.id))

    async def CreateBlacklistMonitor(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = self._caller(context)
        return monitor_message(self.service.create_monitor(caller, sent_fields(request)))

    async def DeleteBlacklistMonitor(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        result = self.service.delete_monitor(self._caller(context), request.id)
        return to_message(pb.DeleteResponse, result)

    async def WatchDeviceStatus(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async for event in self.service.status_changes(self._caller(context)):
            yield pb.StatusChange(
                device=to_message(pb.Device, event["device"]),
                previous_status=event["previous_status"],
            )

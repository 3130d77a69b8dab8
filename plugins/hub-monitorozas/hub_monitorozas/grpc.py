"""gRPC service ``hub.monitorozas.v1.Monitorozas``, a thin adapter over
:class:`MonitorozasService`: records become messages through ``hub.records.to_message``. A
list's stored rows are rendered once each and kept by their bytes (``hub.grpc.wire``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

from grpc.aio import ServicerContext as Context

from hub.api import HubApi
from hub.caller import Caller, caller_of
from hub.grpc.wire import RenderedRows, delimited, spliced
from hub.paging import Page
from hub.records import sent_fields, to_message
from hub_monitorozas.service import MonitorozasService, page
from hub_monitorozas.storage import DEVICES, MONITORS, StoredPage
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc


def _listed(rows: RenderedRows, cls: Any, page: StoredPage[Any]) -> list[bytes]:
    """A page's messages, each :func:`~hub.grpc.wire.delimited`: stored rows' kept ones."""
    if page.stored is None:  # the vendor's records
        return [delimited(to_message(cls, record)) for record in page.records]
    return rows.many(page.stored, page.ids)


class MonitorozasServicer(monitorozas_pb2_grpc.MonitorozasServicer):
    def __init__(self, hub: HubApi) -> None:
        self.service = hub.service(MonitorozasService)
        self.devices = RenderedRows(lambda doc: to_message(pb.Device, DEVICES.decode(doc)))
        self.monitors = RenderedRows(
            lambda doc: to_message(pb.BlacklistMonitor, MONITORS.decode(doc))
        )

    def _caller(self, context: Context) -> Caller:
        """The caller, checked before the request is read (a 401 before a bad limit's 400)."""
        caller = caller_of(context)
        self.service.authorize(caller)
        return caller

    @staticmethod
    def _window(request: Any) -> Page:
        return page(request.offset, request.limit if request.HasField("limit") else None)

    async def Me(self, request: Any, context: Context) -> Any:
        return to_message(pb.MeResponse, await self.service.me(caller_of(context)))

    async def ListDevices(self, request: Any, context: Context) -> Any:
        caller = self._caller(context)
        stored = await self.service.device_records.page(caller, self._window(request))
        devices = _listed(self.devices, pb.Device, stored)
        return spliced(pb.ListDevicesResponse, {"devices": devices}, total_count=stored.total)

    async def GetDevice(self, request: Any, context: Context) -> Any:
        device = await self.service.device_records.get(caller_of(context), request.id)
        return to_message(pb.Device, device)

    async def GetDeviceHistory(self, request: Any, context: Context) -> Any:
        limit = request.limit if request.HasField("limit") else None
        entries = self.service.history(caller_of(context), request.id, limit)
        return pb.HistoryResponse(results=[to_message(pb.CheckResult, e) for e in entries])

    async def CreateDevice(self, request: Any, context: Context) -> Any:
        device = await self.service.device_records.create(caller_of(context), sent_fields(request))
        return to_message(pb.Device, device)

    async def DeleteDevice(self, request: Any, context: Context) -> Any:
        deleted = await self.service.device_records.delete(caller_of(context), request.id)
        return to_message(pb.DeleteResponse, deleted)

    async def CheckNow(self, request: Any, context: Context) -> Any:
        device = await self.service.check_now(caller_of(context), request.id)
        return to_message(pb.Device, device)

    async def ListBlacklistMonitors(self, request: Any, context: Context) -> Any:
        caller = self._caller(context)
        stored = await self.service.monitor_records.page(caller, self._window(request))
        monitors = _listed(self.monitors, pb.BlacklistMonitor, stored)
        return spliced(
            pb.ListBlacklistMonitorsResponse,
            {"blacklist_monitors": monitors},
            total_count=stored.total,
        )

    async def GetBlacklistMonitor(self, request: Any, context: Context) -> Any:
        monitor = await self.service.monitor_records.get(caller_of(context), request.id)
        return to_message(pb.BlacklistMonitor, monitor)

    async def CreateBlacklistMonitor(self, request: Any, context: Context) -> Any:
        records = self.service.monitor_records
        monitor = await records.create(caller_of(context), sent_fields(request))
        return to_message(pb.BlacklistMonitor, monitor)

    async def DeleteBlacklistMonitor(self, request: Any, context: Context) -> Any:
        deleted = await self.service.monitor_records.delete(caller_of(context), request.id)
        return to_message(pb.DeleteResponse, deleted)

    async def WatchDeviceStatus(self, request: Any, context: Context) -> AsyncIterator[Any]:
        async for change in self.service.status_changes(caller_of(context)):
            yield to_message(pb.StatusChange, change)

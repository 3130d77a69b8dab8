"""gRPC ``hub.rop.v1.Rop``, a thin adapter over :class:`RopService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc

from hub.api import HubApi
from hub.caller import caller_of
from hub.grpc.wire import RenderedRows, spliced
from hub.paging import Page
from hub.records import plain, sent_fields, to_message
from hub_rop.definitions import CHECKLISTS, TABLES, Kind
from hub_rop.errors import bad_request
from hub_rop.service import RopService
from hub_rop.storage import Listing
from hub_rop.v1 import rop_pb2, rop_pb2_grpc


def _page(request: Any) -> Page:
    return Page.of(
        request.offset, request.limit if request.HasField("limit") else None, bad_request
    )


def _status(request: Any) -> str | None:
    return request.status if request.HasField("status") else None


class RopServicer(rop_pb2_grpc.RopServicer):
    def __init__(self, hub: HubApi) -> None:
        self.service: RopService = hub.service(RopService)
        self._rendered: dict[Any, RenderedRows] = {}

    def _messages(self, cls: Any, listing: Listing[Any]) -> list[bytes]:
        """A page's messages, each stored row's rendered once and kept while the row is
        unchanged (``hub.grpc.wire``), found by its seq: a list's rows are whole items and its
        ``record`` a function of the row alone (see :class:`~hub_rop.storage.Listing`)."""
        rows = self._rendered.get(cls)
        if rows is None:
            record = listing.record  # one per list, whatever the page
            rows = self._rendered[cls] = RenderedRows(lambda row: to_message(cls, record(row)))
        return rows.many(listing.rows, listing.ids)

    async def UploadCall(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        queued = await self.service.upload(caller_of(context), sent_fields(request))
        return to_message(rop_pb2.UploadCallResponse, queued)

    async def UpdateOffices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        update = await self.service.update_offices(caller_of(context), sent_fields(request))
        return to_message(rop_pb2.UpdateOfficesResponse, update)

    async def UpdateManagers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        update = await self.service.update_managers(caller_of(context), sent_fields(request))
        return to_message(rop_pb2.UpdateManagersResponse, update)

    async def CallReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        answer = await self.service.call_ready(caller_of(context), request.tab, request.call)
        return to_message(rop_pb2.CallReadyResponse, answer)

    async def ListCalls(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        page = _page(request)
        calls = self.service.list_calls(caller_of(context), _status(request), page)
        messages = self._messages(rop_pb2.Call, calls)
        return spliced(rop_pb2.ListCallsResponse, {"calls": messages}, total_count=calls.total)

    async def GetCall(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(rop_pb2.Call, self.service.call(caller_of(context), request.call_id))

    async def ListOffices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        offices = self.service.offices(caller_of(context))
        return to_message(rop_pb2.ListOfficesResponse, {"offices": offices})

    async def ListManagers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        page = _page(request)
        managers = self.service.managers(caller_of(context), page)
        messages = self._messages(rop_pb2.Manager, managers)
        return spliced(
            rop_pb2.ListManagersResponse, {"managers": messages}, total_count=managers.total
        )

    # -- checklists and tables: the same operations on either kind -----------------------
    def _list(self, context: Any, kind: Kind, response: Any, field: str) -> Any:
        return to_message(response, {field: self.service.definitions_of(caller_of(context), kind)})

    def _put(self, request: Any, context: Any, kind: Kind, message: Any) -> Any:
        made = self.service.put_definition(caller_of(context), kind, sent_fields(request))
        return to_message(message, made)

    def _delete(self, request: Any, context: Any, kind: Kind) -> Any:
        ident = self.service.delete_definition(caller_of(context), kind, request.id)
        return rop_pb2.DeleteResponse(id=ident)

    async def ListChecklists(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._list(context, CHECKLISTS, rop_pb2.ListChecklistsResponse, "checklists")

    async def PutChecklist(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._put(request, context, CHECKLISTS, rop_pb2.Checklist)

    async def DeleteChecklist(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._delete(request, context, CHECKLISTS)

    async def ListTables(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._list(context, TABLES, rop_pb2.ListTablesResponse, "tables")

    async def PutTable(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._put(request, context, TABLES, rop_pb2.Table)

    async def DeleteTable(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return self._delete(request, context, TABLES)

    async def SubmitAnalysis(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = sent_fields(request)
        data["tables"] = [  # an unset Struct is an empty object, as before presence
            {"table_id": t.table_id, "extracted_data": plain(t.extracted_data, whole_numbers=True)}
            for t in request.tables
        ]
        analyzed = self.service.submit_analysis(caller_of(context), data)
        return to_message(rop_pb2.Call, analyzed)

    async def ListWebhookDeliveries(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        page = _page(request)
        deliveries = self.service.deliveries(caller_of(context), _status(request), page)
        messages = self._messages(rop_pb2.WebhookDelivery, deliveries)
        return spliced(
            rop_pb2.ListWebhookDeliveriesResponse,
            {"deliveries": messages},
            total_count=deliveries.total,
        )

    async def RedeliverWebhook(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        delivery = self.service.redeliver(caller_of(context), request.id)
        return to_message(rop_pb2.WebhookDelivery, delivery)

    async def WebhookCounts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        counts = self.service.delivery_counts(caller_of(context))
        return to_message(rop_pb2.WebhookCountsResponse, counts)

    async def CreateReceiver(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        made = self.service.create_receiver(caller_of(context), request.kind, request.id)
        return to_message(rop_pb2.Receiver, made)

    async def DeleteReceiver(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        ident = self.service.delete_receiver(caller_of(context), request.kind, request.id)
        return rop_pb2.DeleteResponse(id=ident)

    async def ListReceivers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        receivers = self.service.receivers_of(caller_of(context))
        return to_message(rop_pb2.ListReceiversResponse, {"receivers": receivers})

    async def WatchCallAnalyzed(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async for call in self.service.analyzed(caller_of(context)):
            yield to_message(rop_pb2.Call, call)

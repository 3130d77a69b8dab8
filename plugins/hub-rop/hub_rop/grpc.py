"""gRPC ``hub.rop.v1.Rop``, a thin adapter over :class:`RopService`."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import grpc
from google.protobuf import json_format, struct_pb2

from hub.grpc.server import authorization
from hub.paging import Page
from hub.records import sent_fields
from hub_rop.errors import bad_request
from hub_rop.service import RopService, iso
from hub_rop.v1 import rop_pb2, rop_pb2_grpc


def struct(data: dict[str, Any]) -> struct_pb2.Struct:
    message = struct_pb2.Struct()
    json_format.ParseDict(data, message)
    return message


def _integral(value: Any) -> Any:
    if isinstance(value, float) and value.is_integer() and abs(value) < 2**53:
        return int(value)
    if isinstance(value, dict):
        return {k: _integral(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_integral(v) for v in value]
    return value


def plain(message: struct_pb2.Struct) -> dict[str, Any]:
    """A ``Struct`` as plain JSON values; its numbers are all doubles, so whole ones become
    integers again (3, not 3.0, as the same answer over GraphQL gives)."""
    return _integral(json_format.MessageToDict(message))  # type: ignore[no-any-return]


def window(offset: int, limit: int | None) -> tuple[int, int]:
    page = Page.of(offset, limit, bad_request)
    return page.offset, page.limit


def call_message(call: dict[str, Any]) -> rop_pb2.Call:
    return rop_pb2.Call(
        call_id=call["call_id"],
        manager_id=call["manager_id"],
        deal_id=call["deal_id"],
        deal_stage_id=call["deal_stage_id"],
        audio_url=call["audio_url"],
        declared_duration=call["declared_duration"],
        status=call["status"],
        reason=call["reason"],
        detail=call["detail"],
        format=call["format"],
        size_bytes=call["size_bytes"],
        duration=call["duration"],
        created_at=iso(call["created_at"]),
        updated_at=iso(call["updated_at"]),
        analyzed_at=iso(call["analyzed_at"]),
        checklist_results=[
            rop_pb2.ChecklistResult(
                **{k: v for k, v in r.items() if k != "stages"},
                stages=[rop_pb2.StageResult(**s) for s in r["stages"]],
            )
            for r in call["checklist_results"]
        ],
        table_results=[
            rop_pb2.TableResult(
                **{k: v for k, v in r.items() if k != "extracted_data"},
                extracted_data=struct(r["extracted_data"]),
            )
            for r in call["table_results"]
        ],
    )


def checklist_message(item: dict[str, Any]) -> rop_pb2.Checklist:
    return rop_pb2.Checklist(
        id=item["id"],
        name=item["name"],
        webhook_url=item["webhook_url"] or "",
        stages=[rop_pb2.Stage(**s) for s in item["stages"]],
    )


def table_message(item: dict[str, Any]) -> rop_pb2.Table:
    return rop_pb2.Table(
        id=item["id"],
        name=item["name"],
        webhook_url=item["webhook_url"] or "",
        fields=[rop_pb2.TableField(**f) for f in item["fields"]],
    )


def delivery_message(item: dict[str, Any]) -> rop_pb2.WebhookDelivery:
    times = ("next_attempt_at", "created_at", "delivered_at", "dead_at")
    fields: dict[str, Any] = {k: (iso(v) if k in times else v) for k, v in item.items()}
    return rop_pb2.WebhookDelivery(**fields)


def _definition(message: Any, parts: str) -> dict[str, Any]:
    """A checklist or table message as the dict the service checks (empty = left out)."""
    data = json_format.MessageToDict(message, preserving_proto_field_name=True)
    data.setdefault(parts, [])
    return data


class RopServicer(rop_pb2_grpc.RopServicer):
    def __init__(self, hub: Any) -> None:
        self.service: RopService = hub.service(RopService)

    async def UploadCall(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = sent_fields(request)
        return rop_pb2.UploadCallResponse(**await self.service.upload(authorization(context), data))

    async def UpdateOffices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = json_format.MessageToDict(
            request, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        data.setdefault("offices", [])
        return rop_pb2.UpdateOfficesResponse(
            **self.service.update_offices(authorization(context), data)
        )

    async def UpdateManagers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = json_format.MessageToDict(
            request, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
        )
        data.setdefault("managers", [])
        return rop_pb2.UpdateManagersResponse(
            **self.service.update_managers(authorization(context), data)
        )

    async def CallReady(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        answer = self.service.call_ready(authorization(context), request.tab, request.call)
        if not answer["ready"]:
            return rop_pb2.CallReadyResponse(ready=False)
        return rop_pb2.CallReadyResponse(ready=True, data=struct(answer["data"]))

    async def ListCalls(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        offset, limit = window(request.offset, request.limit if request.HasField("limit") else None)
        status = request.status if request.HasField("status") else None
        calls, total = self.service.calls(authorization(context), status, offset, limit)
        return rop_pb2.ListCallsResponse(calls=[call_message(c) for c in calls], total_count=total)

    async def GetCall(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return call_message(self.service.call(authorization(context), request.call_id))

    async def ListOffices(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        offices = self.service.offices(authorization(context))
        return rop_pb2.ListOfficesResponse(offices=[rop_pb2.Office(**o) for o in offices])

    async def ListManagers(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        offset, limit = window(request.offset, request.limit if request.HasField("limit") else None)
        managers, total = self.service.managers(authorization(context), offset, limit)
        return rop_pb2.ListManagersResponse(
            managers=[rop_pb2.Manager(**m) for m in managers], total_count=total
        )

    async def ListChecklists(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        items = self.service.checklists(authorization(context))
        return rop_pb2.ListChecklistsResponse(checklists=[checklist_message(c) for c in items])

    async def PutChecklist(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = _definition(request, "stages")
        return checklist_message(self.service.put_checklist(authorization(context), data))

    async def DeleteChecklist(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return rop_pb2.DeleteResponse(
            id=self.service.delete_checklist(authorization(context), request.id)
        )

    async def ListTables(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        items = self.service.tables(authorization(context))
        return rop_pb2.ListTablesResponse(tables=[table_message(t) for t in items])

    async def PutTable(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = _definition(request, "fields")
        return table_message(self.service.put_table(authorization(context), data))

    async def DeleteTable(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return rop_pb2.DeleteResponse(
            id=self.service.delete_table(authorization(context), request.id)
        )

    async def SubmitAnalysis(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        data = {
            "call_id": request.call_id,
            "checklists": [
                {
                    "checklist_id": c.checklist_id,
                    "stages": [
                        {
                            "stage_id": s.stage_id,
                            "status": s.status,
                            "comment": s.comment,
                            "quote": s.quote,
                        }
                        for s in c.stages
                    ],
                }
                for c in request.checklists
            ],
            "tables": [
                {"table_id": t.table_id, "extracted_data": plain(t.extracted_data)}
                for t in request.tables
            ],
        }
        return call_message(self.service.submit_analysis(authorization(context), data))

    async def ListWebhookDeliveries(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        offset, limit = window(request.offset, request.limit if request.HasField("limit") else None)
        status = request.status if request.HasField("status") else None
        items, total = self.service.deliveries(authorization(context), status, offset, limit)
        return rop_pb2.ListWebhookDeliveriesResponse(
            deliveries=[delivery_message(d) for d in items], total_count=total
        )

    async def RedeliverWebhook(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return delivery_message(self.service.redeliver(authorization(context), request.id))

    async def WebhookCounts(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return rop_pb2.WebhookCountsResponse(**self.service.delivery_counts(authorization(context)))

    async def WatchCallAnalyzed(
        self, request: Any, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[Any]:
        async for call in self.service.analyzed(authorization(context)):
            yield call_message(call)

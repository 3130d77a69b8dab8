"""ERA's gRPC service ``hub.era.v1.Era``, a thin adapter over :class:`EraService`."""

from __future__ import annotations

from typing import Any

import grpc

from hub.api import HubApi
from hub.caller import caller_of
from hub.grpc.wire import RenderedRows, delimited, spliced
from hub.paging import Page
from hub.records import plain, sent_fields, to_message
from hub_era.errors import bad_request
from hub_era.fields import Order
from hub_era.service import EraService
from hub_era.storage import record_of
from hub_era.v1 import era_pb2, era_pb2_grpc

Point = era_pb2.IntegrationPoint


def stored_point(stored: bytes) -> Any:
    """A channel's message from its stored JSON, as every other read renders it."""
    return to_message(Point, record_of(stored))


class EraServicer(era_pb2_grpc.EraServicer):
    def __init__(self, hub: HubApi) -> None:
        self.service = hub.service(EraService)
        self.stored_points = RenderedRows(stored_point)

    async def Create(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        changes = sent_fields(request.integration_point)
        return to_message(Point, await self.service.create(caller_of(context), changes))

    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = caller_of(context)
        self.service.authorize(caller)  # a 401 before a bad limit is a 400
        page = await self.service.page(
            caller,
            filter=plain(request.filter) if request.HasField("filter") else None,
            order=[Order(o.field, o.desc) for o in request.order],
            window=Page.of(
                request.offset, request.limit if request.HasField("limit") else None, bad_request
            ),
        )
        if page.stored is not None:  # stored rows: each one's message rendered once
            points = self.stored_points.many(page.stored, page.ids)
        else:
            points = [delimited(to_message(Point, p)) for p in page.records()]
        return spliced(
            era_pb2.ListResponse, {"integration_points": points}, total_count=page.total or 0
        )

    async def Get(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(Point, await self.service.get(caller_of(context), request.id))

    async def Update(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        changes = sent_fields(request.integration_point)
        point = await self.service.update(caller_of(context), request.id, changes)
        return to_message(Point, point)

    async def Delete(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        await self.service.delete(caller_of(context), request.id)
        return era_pb2.DeleteResponse()

    async def Lookup(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        key = {request.field: request.key} if request.field else request.key
        ids = await self.service.lookup(caller_of(context), key)
        return era_pb2.LookupResponse(ids=ids)

"""ERA's gRPC service ``hub.era.v1.Era``, a thin adapter over :class:`EraService`."""

from __future__ import annotations

from typing import Any

import grpc

from hub.grpc.server import authorization
from hub_era.service import OPTS, STRING_FIELDS, EraService, Order
from hub_era.v1 import era_pb2, era_pb2_grpc


def to_message(entity: dict[str, Any]) -> era_pb2.IntegrationPoint:
    fields = {k: v for k, v in entity.items() if k not in ("opts", "ext")}
    return era_pb2.IntegrationPoint(
        **fields, opts=era_pb2.Opts(**entity["opts"]), ext=era_pb2.Ext(**entity["ext"])
    )


def plain(value: Any) -> Any:
    """A ``google.protobuf.Value`` as plain Python, so that the service judges it: json_format
    raises on the infinities and NaN a ``number_value`` can hold."""
    kind = value.WhichOneof("kind")
    if kind == "struct_value":
        return {k: plain(v) for k, v in value.struct_value.fields.items()}
    if kind == "list_value":
        return [plain(v) for v in value.list_value.values]
    return None if kind in (None, "null_value") else getattr(value, kind)


def to_changes(message: era_pb2.IntegrationPointInput) -> dict[str, Any]:
    """Only the fields that were set, like a REST body."""
    changes: dict[str, Any] = {f: getattr(message, f) for f in STRING_FIELDS if message.HasField(f)}
    if message.HasField("opts"):
        changes["opts"] = {f: getattr(message.opts, f) for f in OPTS if message.opts.HasField(f)}
    return changes


class EraServicer(era_pb2_grpc.EraServicer):
    def __init__(self, hub: Any) -> None:
        self.service = hub.service(EraService)

    def _authorized(self, context: grpc.aio.ServicerContext) -> EraService:
        self.service.authorize(authorization(context))
        return self.service

    async def Create(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(self._authorized(context).create(to_changes(request.integration_point)))

    async def List(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        service = self._authorized(context)
        page = service.page(
            filter={k: plain(v) for k, v in request.filter.fields.items()}
            if request.HasField("filter")
            else None,
            order=[Order(o.field, o.desc) for o in request.order],
            offset=request.offset,
            limit=request.limit if request.HasField("limit") else None,
        )
        return era_pb2.ListResponse(
            integration_points=[to_message(e) for e in page.entities()], total_count=page.total or 0
        )

    async def Get(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(self._authorized(context).get(request.id))

    async def Update(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        service = self._authorized(context)
        return to_message(service.update(request.id, to_changes(request.integration_point)))

    async def Delete(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        self._authorized(context).delete(request.id)
        return era_pb2.DeleteResponse()

    async def Lookup(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        key = {request.field: request.key} if request.field else request.key
        return era_pb2.LookupResponse(ids=self._authorized(context).lookup(key))

"""ERA in the hub's GraphQL schema: ``{ era { ... } }`` and the ``era*`` mutations."""

from __future__ import annotations

from enum import Enum

import strawberry

from hub.graphql.context import plugin_resolvers
from hub.graphql.stored import stored_objects
from hub.graphql.types import JSON, Connection, connection, page_window
from hub.records import sent_fields, to_graphql
from hub_era.errors import PLUGIN, bad_request
from hub_era.fields import Order
from hub_era.service import EraService
from hub_era.storage import record_of


@strawberry.type(name="EraOpts")
class Opts:
    title: str
    comment: str
    allow_files_api: bool
    issync: bool


@strawberry.type(name="EraExt", description="Server-set times, UTC: created and last written.")
class Ext:
    ct: str
    lwt: str


@strawberry.type(name="EraIntegrationPoint")
class IntegrationPoint:
    id: strawberry.ID
    code: str
    type: str
    token_local: str
    token_remote: str
    token_remote2: str
    url: str
    recv_svcscriptcode: str
    recv_svcscriptcode_ws: str
    send_svcscriptcode: str
    send_svcscriptcode_ws: str
    opts: Opts
    ext: Ext


@strawberry.input(name="EraOptsInput")
class OptsInput:
    title: str | None = strawberry.UNSET
    comment: str | None = strawberry.UNSET
    allow_files_api: bool | None = strawberry.UNSET
    issync: bool | None = strawberry.UNSET


@strawberry.input(
    name="EraIntegrationPointInput",
    description="Fields left out keep their value (update) or take their default (create).",
)
class IntegrationPointInput:
    code: str | None = strawberry.UNSET
    type: str | None = strawberry.UNSET
    token_remote: str | None = strawberry.UNSET
    token_remote2: str | None = strawberry.UNSET
    url: str | None = strawberry.UNSET
    recv_svcscriptcode: str | None = strawberry.UNSET
    recv_svcscriptcode_ws: str | None = strawberry.UNSET
    send_svcscriptcode: str | None = strawberry.UNSET
    send_svcscriptcode_ws: str | None = strawberry.UNSET
    opts: OptsInput | None = strawberry.UNSET


@strawberry.enum(name="EraOrderDirection")
class Direction(Enum):
    ASC = "asc"
    DESC = "desc"


@strawberry.input(name="EraOrderInput")
class OrderInput:
    field: str = strawberry.field(description='A field name, dotted for nested ones: "ext.ct".')
    direction: Direction = Direction.ASC


_service, _caller = plugin_resolvers(PLUGIN, EraService)


@strawberry.type(name="EraQuery")
class EraQuery:
    @strawberry.field(description="Channels matching `filter` (field -> value or list of values).")
    async def integration_points(
        self,
        info: strawberry.Info,
        filter: JSON | None = None,
        order: list[OrderInput] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[IntegrationPoint]:
        service, caller = _service(info), _caller(info)
        service.authorize(caller)  # a 401 before a bad `first` is a 400
        # the vendor pages by offset: keyset cursors are local mode's
        window = page_window(first, after, bad_request, seekable=service.upstream is None)
        orders = [Order(o.field, o.direction is Direction.DESC) for o in order or []]
        page = await service.page(caller, filter=filter, order=orders, window=window)
        stored = page.stored
        return connection(
            [to_graphql(IntegrationPoint, p) for p in page.records()]
            if stored is None
            else stored_objects(IntegrationPoint, stored, record_of, page.ids),
            page.total or 0,
            window,
            page.cursors(),
            page.has_next,
        )

    @strawberry.field
    async def integration_point(self, info: strawberry.Info, id: strawberry.ID) -> IntegrationPoint:
        return to_graphql(IntegrationPoint, await _service(info).get(_caller(info), id))

    @strawberry.field(
        description="Ids whose id, code or token_local equals `key` (or only `field`)."
    )
    async def lookup(
        self, info: strawberry.Info, key: str, field: str | None = None
    ) -> list[strawberry.ID]:
        ids = await _service(info).lookup(_caller(info), {field: key} if field else key)
        return [strawberry.ID(i) for i in ids]


@strawberry.type(name="EraMutation")
class EraMutation:
    @strawberry.mutation
    async def era_create_integration_point(
        self, info: strawberry.Info, input: IntegrationPointInput
    ) -> IntegrationPoint:
        point = await _service(info).create(_caller(info), sent_fields(input))
        return to_graphql(IntegrationPoint, point)

    @strawberry.mutation
    async def era_update_integration_point(
        self, info: strawberry.Info, id: strawberry.ID, input: IntegrationPointInput
    ) -> IntegrationPoint:
        point = await _service(info).update(_caller(info), id, sent_fields(input))
        return to_graphql(IntegrationPoint, point)

    @strawberry.mutation(description="Returns the id of the deleted channel.")
    async def era_delete_integration_point(
        self, info: strawberry.Info, id: strawberry.ID
    ) -> strawberry.ID:
        await _service(info).delete(_caller(info), id)
        return id

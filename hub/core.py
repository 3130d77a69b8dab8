"""The host's own features, registered through the same hooks as any plugin (datasette's
"default plugins"): the ``hub`` GraphQL root, ``hubAddCredential``, ``hub.v1.Hub``, core probes."""

from __future__ import annotations

import os
from typing import Any

import grpc
import strawberry
from google.protobuf import json_format, struct_pb2

from hub.graphql.types import JSON
from hub.grpc.server import authorization
from hub.health import plugin_status
from hub.hookspecs import hookimpl
from hub.registry import GraphQLPart, GrpcService, HealthProbe
from hub.v1 import hub_pb2, hub_pb2_grpc


class HubService:
    """What the three adapters of the host itself share."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def plugins(self) -> list[dict[str, Any]]:
        return [info.as_dict() for info in self.hub.plugin_info()]

    async def health(self) -> dict[str, Any]:
        results = await self.hub.health()
        ready = not any(r["status"] == "down" and r["critical"] for r in results)
        plugins = []
        for name in self.hub.plugins:
            mine = [r for r in results if r["plugin"] == name]
            detail = "; ".join(f"{r['name']}: {r['detail']}" for r in mine if r["detail"])
            plugins.append(
                {"plugin": name, "status": plugin_status(results, name), "detail": detail}
            )
        return {"status": "ready" if ready else "not ready", "plugins": plugins, "probes": results}

    def add_credential(
        self, authorization: str | None, plugin: str, params: dict[str, str]
    ) -> dict[str, Any]:
        self.hub.credentials.require_admin(authorization)
        return self.hub.credentials.issue(plugin, params)  # type: ignore[no-any-return]


# -- GraphQL ---------------------------------------------------------------------------------
@strawberry.type(name="HubPlugin")
class PluginType:
    name: str
    version: str
    source: str
    hooks: list[str]


@strawberry.type(name="HubPluginHealth")
class PluginHealthType:
    plugin: str
    status: str
    detail: str


@strawberry.input(name="HubParamInput")
class ParamInput:
    key: str
    value: str


@strawberry.type(name="HubQuery")
class HubQuery:
    @strawberry.field(description="Loaded plugins, their versions and the hooks they implement.")
    def plugins(self, info: strawberry.Info) -> list[PluginType]:
        return [PluginType(**p) for p in info.context.hub.service(HubService).plugins()]

    @strawberry.field(description="Each plugin's health, from its probes.")
    async def health(self, info: strawberry.Info) -> list[PluginHealthType]:
        report = await info.context.hub.service(HubService).health()
        return [PluginHealthType(**p) for p in report["plugins"]]


@strawberry.type(name="HubMutation")
class HubMutation:
    @strawberry.mutation(description="Admin only: create a plugin credential, shown this once.")
    def hub_add_credential(
        self, info: strawberry.Info, plugin: str, params: list[ParamInput] | None = None
    ) -> JSON:
        ctx = info.context
        pairs = {p.key: p.value for p in params or []}
        return ctx.hub.service(HubService).add_credential(ctx.authorization, plugin, pairs)


# -- gRPC ------------------------------------------------------------------------------------
class HubServicer(hub_pb2_grpc.HubServicer):
    def __init__(self, hub: Any) -> None:
        self.service = hub.service(HubService)

    async def ListPlugins(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return hub_pb2.ListPluginsResponse(
            plugins=[hub_pb2.Plugin(**p) for p in self.service.plugins()]
        )

    async def Health(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        report = await self.service.health()
        return hub_pb2.HealthResponse(
            status=report["status"],
            plugins=[hub_pb2.PluginHealth(**p) for p in report["plugins"]],
            probes=[hub_pb2.Probe(**p) for p in report["probes"]],
        )

    async def AddCredential(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        issued = self.service.add_credential(
            authorization(context), request.plugin, dict(request.params)
        )
        credential = struct_pb2.Struct()
        json_format.ParseDict(issued, credential)
        return hub_pb2.AddCredentialResponse(credential=credential)


# -- hooks -----------------------------------------------------------------------------------
@hookimpl(trylast=True)
def register_graphql(hub: Any, register: Any) -> None:
    register(GraphQLPart(query=HubQuery, mutation=HubMutation))


@hookimpl(trylast=True)
def register_grpc(hub: Any, register: Any) -> None:
    register(GrpcService("hub.v1.Hub", HubServicer(hub), hub_pb2_grpc.add_HubServicer_to_server))


@hookimpl(trylast=True)
def register_health_probes(hub: Any, register: Any) -> None:
    def database() -> tuple[str, str]:
        hub.database("hub").execute("SELECT count(*) FROM credentials").fetchone()
        return "ok", ""

    def data_dir() -> tuple[str, str]:
        if not os.access(hub.data_dir, os.W_OK):
            return "down", f"{hub.data_dir} is not writable"
        return "ok", ""

    register(HealthProbe("database", database))
    register(HealthProbe("data_dir", data_dir))

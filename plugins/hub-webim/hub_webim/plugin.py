"""The ``webim`` plugin's hooks (entry point ``webim = "hub_webim.plugin"``, group ``hub``)."""

from __future__ import annotations

from typing import Any

from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, GrpcService, HealthProbe, PeriodicJob
from hub_webim import service, storage
from hub_webim.settings import WebimSettings


@hookimpl
def register_settings(register: Any) -> None:
    register(WebimSettings)


@hookimpl
def register_migrations(register: Any) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(register: Any) -> None:
    register(service.CREDENTIAL_TYPE)


@hookimpl
def register_rest(hub: Any, register: Any) -> None:
    from hub_webim.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: Any, register: Any) -> None:
    from hub_webim.graphql import WebimMutation, WebimQuery

    register(GraphQLPart(query=WebimQuery, mutation=WebimMutation))


@hookimpl
def register_grpc(hub: Any, register: Any) -> None:
    from hub_webim.grpc import WebimServicer
    from hub_webim.v1 import webim_pb2_grpc

    register(
        GrpcService(
            "hub.webim.v1.Webim", WebimServicer(hub), webim_pb2_grpc.add_WebimServicer_to_server
        )
    )


@hookimpl
def register_health_probes(hub: Any, register: Any) -> None:
    webim = hub.service(service.WebimService)

    def database() -> tuple[str, str]:
        try:
            webim.connect_to_db()
        except service.HubError as exc:
            return "down", exc.message
        return "ok", "webim.db answers"

    register(HealthProbe("database", database))


@hookimpl
def register_jobs(hub: Any, register: Any) -> None:
    webim = hub.service(service.WebimService)
    register(PeriodicJob("storager", webim.settings.storager_interval, webim.storager_run))


@hookimpl
def startup(hub: Any) -> None:
    from hub_webim.metrics import WebimCollector

    hub.metrics.registry.register(WebimCollector(hub))  # at the hub's /metrics and /webim/metrics

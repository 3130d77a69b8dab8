"""The ``webim`` plugin's hooks (entry point ``webim = "hub_webim.plugin"``, group ``hub``)."""

from __future__ import annotations

from collections.abc import Callable

from hub.api import HubApi
from hub.credentials import CredentialType
from hub.errors import HubError
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, GrpcService, HealthProbe, PeriodicJob, RestApi
from hub.storage import Migration
from hub_webim import auth, storage
from hub_webim.service import WebimService
from hub_webim.settings import WebimSettings


@hookimpl
def register_settings(register: Callable[[type], None]) -> None:
    register(WebimSettings)


@hookimpl
def register_migrations(register: Callable[[Migration], None]) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(register: Callable[[CredentialType], None]) -> None:
    register(auth.CREDENTIAL_TYPE)


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    from hub_webim.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    from hub_webim.graphql import WebimMutation, WebimQuery, WebimSubscription

    register(GraphQLPart(query=WebimQuery, mutation=WebimMutation, subscription=WebimSubscription))


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    from hub_webim.grpc import WebimServicer
    from hub_webim.v1 import webim_pb2_grpc

    register(
        GrpcService(
            "hub.webim.v1.Webim", WebimServicer(hub), webim_pb2_grpc.add_WebimServicer_to_server
        )
    )


@hookimpl
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    webim = hub.service(WebimService)
    if webim.upstream is not None:  # webim.db is not the system: the host probes the vendor
        return

    def database() -> tuple[str, str]:
        try:
            webim.check_database()
        except HubError as exc:
            return "down", exc.message
        return "ok", "webim.db answers"

    register(HealthProbe("database", database))


@hookimpl
def register_jobs(hub: HubApi, register: Callable[[PeriodicJob], None]) -> None:
    webim = hub.service(WebimService)
    if webim.upstream is not None:  # the vendor's storagers are the ones timer-stats reports
        return
    register(PeriodicJob("storager", webim.settings.storager_interval, webim.storager_run))


@hookimpl
def startup(hub: HubApi) -> None:
    from hub_webim.metrics import WebimCollector

    hub.metrics.registry.register(WebimCollector(hub))  # at the hub's /metrics and /webim/metrics
    webim = hub.service(WebimService)
    if webim.upstream is None:  # upstream: set-log-level is the vendor's business
        webim.log_levels.start()


@hookimpl
async def shutdown(hub: HubApi) -> None:
    await hub.service(WebimService).log_levels.stop()

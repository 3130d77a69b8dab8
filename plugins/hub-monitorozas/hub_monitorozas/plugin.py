"""The ``monitorozas`` plugin's hooks: the entry point
``monitorozas = "hub_monitorozas.plugin"`` in the group ``hub``."""

from __future__ import annotations

from collections.abc import Callable

from hub.api import HubApi
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import (
    BackgroundQueue,
    GraphQLPart,
    GrpcService,
    HealthProbe,
    RestApi,
    StatusPanel,
)
from hub.storage import Migration
from hub_monitorozas import storage
from hub_monitorozas.auth import KeyIssuer
from hub_monitorozas.service import MonitorozasService
from hub_monitorozas.settings import PLUGIN, MonitorozasSettings


@hookimpl
def register_settings(register: Callable[[type], None]) -> None:
    register(MonitorozasSettings)


@hookimpl
def register_migrations(register: Callable[[Migration], None]) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(hub: HubApi, register: Callable[[CredentialType], None]) -> None:
    register(KeyIssuer(hub.database(PLUGIN)).credential_type())


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    from hub_monitorozas.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    from hub_monitorozas.graphql import (
        MonitorozasMutation,
        MonitorozasQuery,
        MonitorozasSubscription,
    )

    register(
        GraphQLPart(
            query=MonitorozasQuery,
            mutation=MonitorozasMutation,
            subscription=MonitorozasSubscription,
        )
    )


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    from hub_monitorozas.grpc import MonitorozasServicer
    from hub_monitorozas.v1 import monitorozas_pb2_grpc

    register(
        GrpcService(
            "hub.monitorozas.v1.Monitorozas",
            MonitorozasServicer(hub),
            monitorozas_pb2_grpc.add_MonitorozasServicer_to_server,
        )
    )


@hookimpl
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    monitor = hub.service(MonitorozasService)

    def database() -> tuple[str, str]:
        devices, monitors = monitor.counts()
        return "ok", (
            f"devices: {devices}, blacklist monitors: {monitors}, checks pending:"
            f" {monitor.pending()}, status subscribers: {monitor.subscribers}"
        )

    register(HealthProbe("database", database))


@hookimpl
def register_queues(hub: HubApi, register: Callable[[BackgroundQueue], None]) -> None:
    """The checks' work queue: the host runs it as the timer ``monitorozas.scheduler``, reports
    ``monitorozas.checks`` and gives its leases back at shutdown. Not in upstream mode: the
    vendor runs the checks (devices left from a local past stay unchecked)."""
    service = hub.service(MonitorozasService)
    if service.upstream is None:
        register(service.scheduler.queue)


@hookimpl
def register_status_panels(hub: HubApi, register: Callable[[StatusPanel], None]) -> None:
    """Devices up and down and check latency on the status page; not in upstream mode, where
    the vendor runs the checks."""
    service = hub.service(MonitorozasService)
    if service.upstream is None:
        plot = ("check_latency_ms.p50", "check_latency_ms.p95", "devices.down")
        register(StatusPanel("devices", service.status_panel, plot=plot))

"""The ``monitorozas`` plugin's hooks: the entry point
``monitorozas = "hub_monitorozas.plugin"`` in the group ``hub``."""

from __future__ import annotations

from typing import Any

from hub.hookspecs import hookimpl
from hub.registrations import BackgroundQueue, GraphQLPart, GrpcService, HealthProbe, PeriodicJob
from hub_monitorozas import keys, service
from hub_monitorozas.service import MonitorozasService
from hub_monitorozas.settings import MonitorozasSettings


@hookimpl
def register_settings(register: Any) -> None:
    register(MonitorozasSettings)


@hookimpl
def register_migrations(register: Any) -> None:
    for migration in service.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(hub: Any, register: Any) -> None:
    register(keys.KeyIssuer(hub.database(keys.PLUGIN)).credential_type())


@hookimpl
def register_rest(hub: Any, register: Any) -> None:
    from hub_monitorozas.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: Any, register: Any) -> None:
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
def register_grpc(hub: Any, register: Any) -> None:
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
def register_health_probes(hub: Any, register: Any) -> None:
    monitor = hub.service(MonitorozasService)

    def database() -> tuple[str, str]:
        devices, monitors = monitor.counts()
        return "ok", (
            f"devices: {devices}, blacklist monitors: {monitors}, checks pending:"
            f" {monitor.pending()}, status subscribers: {monitor.subscribers}"
        )

    register(HealthProbe("database", database))


@hookimpl
def register_jobs(hub: Any, register: Any) -> None:
    monitor = hub.service(MonitorozasService)
    register(PeriodicJob("scheduler", monitor.settings.scheduler_tick, monitor.run_due))


@hookimpl
def register_queues(hub: Any, register: Any) -> None:
    register(BackgroundQueue("checks", hub.service(MonitorozasService).pending))


@hookimpl
async def shutdown(hub: Any) -> None:
    await hub.service(MonitorozasService).stop()

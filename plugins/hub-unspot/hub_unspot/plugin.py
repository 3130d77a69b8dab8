"""The ``unspot`` plugin's hooks: the entry point ``unspot = "hub_unspot.plugin"`` in the
group ``hub``. Adapters are imported inside the hooks so loading the plugin stays cheap."""

from __future__ import annotations

from typing import Any

from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, GrpcService, HealthProbe
from hub_unspot.service import UnspotService
from hub_unspot.settings import UnspotSettings
from hub_unspot.storage import MIGRATIONS


@hookimpl
def register_settings(register: Any) -> None:
    register(UnspotSettings)


@hookimpl
def register_migrations(register: Any) -> None:
    for migration in MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(hub: Any, register: Any) -> None:
    register(hub.service(UnspotService).credential_type())


@hookimpl
def register_rest(hub: Any, register: Any) -> None:
    from hub_unspot.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: Any, register: Any) -> None:
    from hub_unspot.graphql import UnspotMutation, UnspotQuery, UnspotSubscription

    register(
        GraphQLPart(query=UnspotQuery, mutation=UnspotMutation, subscription=UnspotSubscription)
    )


@hookimpl
def register_grpc(hub: Any, register: Any) -> None:
    from hub_unspot.grpc import UnspotServicer
    from hub_unspot.v1 import unspot_pb2_grpc

    register(
        GrpcService(
            "hub.unspot.v1.Unspot",
            UnspotServicer(hub),
            unspot_pb2_grpc.add_UnspotServicer_to_server,
        )
    )


@hookimpl
def register_health_probes(hub: Any, register: Any) -> None:
    register(HealthProbe("storage", hub.service(UnspotService).storage_health))

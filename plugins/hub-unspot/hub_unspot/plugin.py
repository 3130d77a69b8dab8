"""The ``unspot`` plugin's hooks: the entry point ``unspot = "hub_unspot.plugin"`` in the
group ``hub``. Adapters are imported inside the hooks so loading the plugin stays cheap."""

from __future__ import annotations

from collections.abc import Callable

from hub.api import HubApi
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, GrpcService, HealthProbe, RestApi
from hub.storage import Migration
from hub_unspot.service import UnspotService
from hub_unspot.settings import UnspotSettings
from hub_unspot.storage import MIGRATIONS


@hookimpl
def register_settings(register: Callable[[type], None]) -> None:
    register(UnspotSettings)


@hookimpl
def register_migrations(register: Callable[[Migration], None]) -> None:
    for migration in MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(hub: HubApi, register: Callable[[CredentialType], None]) -> None:
    register(hub.service(UnspotService).credential_type())


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    from hub_unspot.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    from hub_unspot.graphql import UnspotMutation, UnspotQuery, UnspotSubscription

    register(
        GraphQLPart(query=UnspotQuery, mutation=UnspotMutation, subscription=UnspotSubscription)
    )


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
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
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    register(HealthProbe("storage", hub.service(UnspotService).storage_health))

"""The ``era`` plugin's hooks: the entry point ``era = "hub_era.plugin"`` in the group ``hub``."""

from __future__ import annotations

from collections.abc import Callable

from hub.api import HubApi
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import GraphQLPart, GrpcService, HealthProbe, RestApi
from hub.storage import Migration
from hub_era import storage
from hub_era.errors import PLUGIN
from hub_era.settings import EraSettings


@hookimpl
def register_settings(register: Callable[[type], None]) -> None:
    register(EraSettings)


@hookimpl
def register_migrations(register: Callable[[Migration], None]) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(register: Callable[[CredentialType], None]) -> None:
    register(CredentialType())  # no parameters; prints {"token": "..."}


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    from hub_era.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    from hub_era.graphql import EraMutation, EraQuery

    register(GraphQLPart(query=EraQuery, mutation=EraMutation))


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    from hub_era.grpc import EraServicer
    from hub_era.v1 import era_pb2_grpc

    register(
        GrpcService("hub.era.v1.Era", EraServicer(hub), era_pb2_grpc.add_EraServicer_to_server)
    )


@hookimpl
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    if hub.settings_for(PLUGIN).mode == "upstream":
        return  # the channels are the vendor's: the host's `upstream` probe reports on it

    def database() -> tuple[str, str]:
        count = hub.database(PLUGIN).execute(f"SELECT count(*) FROM {storage.TABLE}").fetchone()[0]
        return "ok", f"{count} integration points"

    register(HealthProbe("database", database))

"""The ``rop`` plugin's hooks: the entry point ``rop = "hub_rop.plugin"`` in the group ``hub``."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

import click

from hub.api import HubApi
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import (
    BackgroundQueue,
    GraphQLPart,
    GrpcService,
    HealthProbe,
    RestApi,
)
from hub.storage import Migration
from hub_rop import hookspecs, storage
from hub_rop.settings import RopSettings

if TYPE_CHECKING:
    from hub_rop.service import RopService

hub_hookspecs = hookspecs  # rop_analyze_call, for analyser plugins to implement


def _service(hub: HubApi) -> RopService:
    from hub_rop.service import RopService

    return hub.service(RopService)


@hookimpl
def register_settings(register: Callable[[type], None]) -> None:
    register(RopSettings)


@hookimpl
def register_migrations(register: Callable[[Migration], None]) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(register: Callable[[CredentialType], None]) -> None:
    from hub_rop.auth import CREDENTIAL_TYPE

    register(CREDENTIAL_TYPE)  # hub creds add rop [--param role=analyser] -> {"api_key": ...}


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    from hub_rop.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    from hub_rop.graphql import RopMutation, RopQuery, RopSubscription

    register(GraphQLPart(query=RopQuery, mutation=RopMutation, subscription=RopSubscription))


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    from hub_rop.grpc import RopServicer
    from hub_rop.v1 import rop_pb2_grpc

    register(
        GrpcService("hub.rop.v1.Rop", RopServicer(hub), rop_pb2_grpc.add_RopServicer_to_server)
    )


@hookimpl
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    service = _service(hub)

    def outbox() -> tuple[str, str]:
        counts = service.outbox.counts()
        detail = ", ".join(f"{k} {v}" for k, v in counts.items())
        return ("degraded" if counts["dead"] else "ok"), f"webhooks: {detail}"

    def subscribers() -> tuple[str, str]:
        from hub_rop.analysis import ANALYZED_TOPIC

        return "ok", f"ropCallAnalyzed subscribers: {hub.events.subscribers(ANALYZED_TOPIC)}"

    register(HealthProbe("webhooks", outbox, critical=False))
    register(HealthProbe("subscriptions", subscribers, critical=False))


@hookimpl
def register_queues(hub: HubApi, register: Callable[[BackgroundQueue], None]) -> None:
    """Work queues of the host: it runs ``rop.audio_intake`` and ``rop.webhook_delivery`` on
    its timers, reports ``rop.audio`` and ``rop.webhooks`` and releases them at shutdown."""
    service = _service(hub)
    register(service.intake.queue)
    register(service.outbox.queue)


@hookimpl
async def shutdown(hub: HubApi) -> None:
    await _service(hub).close()


@hookimpl
def register_commands(cli: click.Group) -> None:
    from hub_rop.cli import build

    build(cli)

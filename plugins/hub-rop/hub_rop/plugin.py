"""The ``rop`` plugin's hooks: the entry point ``rop = "hub_rop.plugin"`` in the group ``hub``."""

from __future__ import annotations

from typing import Any

from hub.hookspecs import hookimpl
from hub.registrations import BackgroundQueue, GraphQLPart, GrpcService, HealthProbe, PeriodicJob
from hub_rop import hookspecs, storage
from hub_rop.settings import RopSettings

hub_hookspecs = hookspecs  # rop_analyze_call, for analyser plugins to implement


def _service(hub: Any) -> Any:
    from hub_rop.service import RopService

    return hub.service(RopService)


@hookimpl
def register_settings(register: Any) -> None:
    register(RopSettings)


@hookimpl
def register_migrations(register: Any) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(register: Any) -> None:
    from hub_rop.service import CREDENTIAL_TYPE

    register(CREDENTIAL_TYPE)  # hub creds add rop [--param role=analyser] -> {"api_key": ...}


@hookimpl
def register_rest(hub: Any, register: Any) -> None:
    from hub_rop.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: Any, register: Any) -> None:
    from hub_rop.graphql import RopMutation, RopQuery, RopSubscription

    register(GraphQLPart(query=RopQuery, mutation=RopMutation, subscription=RopSubscription))


@hookimpl
def register_grpc(hub: Any, register: Any) -> None:
    from hub_rop.grpc import RopServicer
    from hub_rop.v1 import rop_pb2_grpc

    register(
        GrpcService("hub.rop.v1.Rop", RopServicer(hub), rop_pb2_grpc.add_RopServicer_to_server)
    )


@hookimpl
def register_health_probes(hub: Any, register: Any) -> None:
    service = _service(hub)

    def outbox() -> tuple[str, str]:
        counts = service.outbox.counts()
        detail = ", ".join(f"{k} {v}" for k, v in counts.items())
        return ("degraded" if counts["dead"] else "ok"), f"webhooks: {detail}"

    def subscribers() -> tuple[str, str]:
        from hub_rop.service import ANALYZED_TOPIC

        return "ok", f"ropCallAnalyzed subscribers: {hub.events.subscribers(ANALYZED_TOPIC)}"

    register(HealthProbe("webhooks", outbox, critical=False))
    register(HealthProbe("subscriptions", subscribers, critical=False))


@hookimpl
def register_jobs(hub: Any, register: Any) -> None:
    service = _service(hub)
    settings = service.settings
    register(PeriodicJob("audio_intake", settings.intake_interval, service.intake.run))
    register(PeriodicJob("webhook_delivery", settings.webhook_interval, service.outbox.run))


@hookimpl
def register_queues(hub: Any, register: Any) -> None:
    service = _service(hub)
    register(BackgroundQueue("audio", service.intake.depth))
    register(BackgroundQueue("webhooks", service.outbox.depth))


@hookimpl
async def shutdown(hub: Any) -> None:
    await _service(hub).close()


@hookimpl
def register_commands(cli: Any) -> None:
    from hub_rop.cli import build

    build(cli)

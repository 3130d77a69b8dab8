"""The hooks a plugin implements. Registration hooks get a ``register`` callback, so the host
checks each registration when it is made and knows which plugin made it. ``hub`` is the running
hub as a plugin may use it, :class:`hub.api.HubApi`: annotate implementations with the same
types (``def register_rest(hub: HubApi, register: Callable[[RestApi], None])``) and mypy checks
them against the host."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING

import pluggy

if TYPE_CHECKING:
    import click

    from hub.api import HubApi
    from hub.credentials import CredentialType
    from hub.registrations import (
        BackgroundQueue,
        GraphQLPart,
        GrpcService,
        HealthProbe,
        PeriodicJob,
        RestApi,
        StatusPanel,
    )
    from hub.storage import Migration

hookspec = pluggy.HookspecMarker("hub")
hookimpl = pluggy.HookimplMarker("hub")


@hookspec
def register_settings(register: Callable[[type], None]) -> None:
    """Register a dataclass of the plugin's options, read from ``[plugins.<name>]``."""


@hookspec
def register_migrations(register: Callable[[Migration], None]) -> None:
    """Register migration functions ``mNNN_name(db)`` in order; each runs once per database."""


@hookspec
def register_credential_types(hub: HubApi, register: Callable[[CredentialType], None]) -> None:
    """Register the plugin's :class:`hub.credentials.CredentialType` for ``hub creds add``;
    ``hub`` lets ``validate`` reach the plugin's own state (unspot creates a user there)."""


@hookspec
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    """Register a :class:`hub.registrations.RestApi`, mounted under ``/<plugin>`` or on a
    listener of the plugin's own."""


@hookspec
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    """Register a :class:`hub.registrations.GraphQLPart` into the one GraphQL schema."""


@hookspec
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    """Register a :class:`hub.registrations.GrpcService` on the hub's gRPC server."""


@hookspec
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    """Register :class:`hub.registrations.HealthProbe` checks for ``/readyz`` and the health
    services."""


@hookspec
def register_jobs(hub: HubApi, register: Callable[[PeriodicJob], None]) -> None:
    """Register :class:`hub.registrations.PeriodicJob` work, run by the host's timer registry."""


@hookspec
def register_queues(hub: HubApi, register: Callable[[BackgroundQueue], None]) -> None:
    """Register :class:`hub.registrations.BackgroundQueue` depths, reported by ``/metrics`` and
    plugins that report on the deployment (unspot's ``system``); a :class:`hub.queue.WorkQueue`
    also gets its leased consumer job."""


@hookspec
def register_status_panels(hub: HubApi, register: Callable[[StatusPanel], None]) -> None:
    """Register :class:`hub.registrations.StatusPanel` data for the operators' status page at
    ``/`` (and the admin's ``hub { status }`` and ``hubStatus``)."""


@hookspec
def register_commands(cli: click.Group) -> None:
    """Add click commands to the ``hub`` command group."""


@hookspec
def startup(hub: HubApi) -> Awaitable[None] | None:
    """Called once the hub is assembled, before it serves; may return an awaitable."""


@hookspec
def shutdown(hub: HubApi) -> Awaitable[None] | None:
    """Called after serving stops and requests have drained; may return an awaitable."""

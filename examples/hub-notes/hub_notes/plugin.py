"""The ``notes`` plugin's hooks, found through the entry point ``notes = "hub_notes.plugin"`` in
the group ``hub``. Each hook hands the host its parts through ``register``; the adapters are
imported inside the hooks so that loading the plugin (``hub --help``) stays cheap."""

from __future__ import annotations

import logging
from collections.abc import Callable

import click

from hub.api import HubApi
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
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
from hub_notes import auth, storage
from hub_notes.service import NotesService
from hub_notes.settings import NotesSettings

log = logging.getLogger("hub_notes")


@hookimpl
def register_settings(register: Callable[[type], None]) -> None:
    register(NotesSettings)


@hookimpl
def register_migrations(register: Callable[[Migration], None]) -> None:
    for migration in storage.MIGRATIONS:
        register(migration)


@hookimpl
def register_credential_types(register: Callable[[CredentialType], None]) -> None:
    register(auth.CREDENTIAL_TYPE)


@hookimpl
def register_rest(hub: HubApi, register: Callable[[RestApi], None]) -> None:
    from hub_notes.rest import rest_api

    register(rest_api(hub))


@hookimpl
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    from hub_notes.graphql import NotesMutation, NotesQuery, NotesSubscription

    register(GraphQLPart(query=NotesQuery, mutation=NotesMutation, subscription=NotesSubscription))


@hookimpl
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    from hub_notes.grpc import NotesServicer
    from hub_notes.v1 import notes_pb2_grpc

    register(
        GrpcService(
            "hub.notes.v1.Notes", NotesServicer(hub), notes_pb2_grpc.add_NotesServicer_to_server
        )
    )


@hookimpl
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    notes = hub.service(NotesService)

    def database() -> tuple[str, str]:
        return "ok", f"stored notes: {notes.count()}, subscribers: {notes.subscribers}"

    register(HealthProbe("database", database))


@hookimpl
def register_jobs(hub: HubApi, register: Callable[[PeriodicJob], None]) -> None:
    notes = hub.service(NotesService)
    register(PeriodicJob("purge_expired", notes.settings.purge_interval, notes.purge_expired))


@hookimpl
def register_queues(hub: HubApi, register: Callable[[BackgroundQueue], None]) -> None:
    register(BackgroundQueue("purge", hub.service(NotesService).expired_pending))


@hookimpl
def register_status_panels(hub: HubApi, register: Callable[[StatusPanel], None]) -> None:
    notes = hub.service(NotesService)
    register(StatusPanel("notes", lambda: {"stored": notes.count()}, plot=("stored",)))


@hookimpl
def register_commands(cli: click.Group) -> None:
    @cli.command(name="notes-count")
    @click.pass_context
    def notes_count(ctx: click.Context) -> None:
        """Print how many notes are stored (expired ones not yet purged included)."""
        from hub.cli import open_hub

        with open_hub(ctx) as hub:
            click.echo(hub.service(NotesService).count())


@hookimpl
async def startup(hub: HubApi) -> None:
    notes = hub.service(NotesService)
    log.info(
        "notes: %d notes stored; purging expired ones every %gs",
        notes.count(),
        notes.settings.purge_interval,
    )


@hookimpl
def shutdown(hub: HubApi) -> None:
    log.info("notes: stopped with %d notes stored", hub.service(NotesService).count())

"""Notes in the hub's one GraphQL schema: ``{ notes { notes note } }``, ``notesCreateNote`` and
``notesNoteAdded``. Every type name starts with ``Notes``; the host refuses to start otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from hub.graphql.context import plugin_resolvers
from hub.graphql.stored import stored_objects
from hub.graphql.types import Connection, connection, page_window
from hub.records import sent_fields, to_graphql
from hub_notes.errors import bad_request
from hub_notes.service import NotesService
from hub_notes.settings import PLUGIN


@strawberry.type(name="NotesNote")
class NoteType:
    id: strawberry.ID
    title: str
    body: str
    created_at: str = strawberry.field(description="UTC, 2024-05-01T12:00:00.000Z.")
    expires_at: str | None = strawberry.field(description="Null: the note never expires.")


@strawberry.input(name="NotesNoteInput")
class NoteInput:
    title: str
    body: str = ""
    ttl_seconds: float | None = strawberry.field(
        default=None, description="Seconds until the note expires; null: the default_ttl setting."
    )


_service, _caller = plugin_resolvers(PLUGIN, NotesService)


@strawberry.type(name="NotesQuery")
class NotesQuery:
    @strawberry.field(description="Live notes, oldest first.")
    def notes(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[NoteType]:
        page = page_window(first, after, bad_request, seekable=True)  # ordered by a unique key
        notes = _service(info).list(_caller(info), page)
        nodes = stored_objects(NoteType, notes.notes, ids=[note.id for note in notes.notes])
        return connection(nodes, notes.total, page, notes.cursors, notes.has_next)

    @strawberry.field
    def note(self, info: strawberry.Info, id: strawberry.ID) -> NoteType:
        return to_graphql(NoteType, _service(info).get(_caller(info), id))


@strawberry.type(name="NotesMutation")
class NotesMutation:
    @strawberry.mutation
    def notes_create_note(self, info: strawberry.Info, input: NoteInput) -> NoteType:
        note = _service(info).create(_caller(info), sent_fields(input))
        return to_graphql(NoteType, note)


@strawberry.type(name="NotesSubscription")
class NotesSubscription:
    @strawberry.subscription(description="Each note created from now on, over any protocol.")
    async def notes_note_added(self, info: strawberry.Info) -> AsyncIterator[NoteType]:
        async for note in _service(info).added(_caller(info)):
            yield to_graphql(NoteType, note)

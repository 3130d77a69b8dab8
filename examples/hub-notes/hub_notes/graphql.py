"""Notes in the hub's one GraphQL schema: ``{ notes { notes note } }``, ``notesCreateNote`` and
``notesNoteAdded``. Every type name starts with ``Notes``; the host refuses to start otherwise."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from hub.graphql.types import Connection, connection, page_window
from hub.records import sent_fields
from hub_notes.service import Note, NotesService, bad_request


@strawberry.type(name="NotesNote")
class NoteType:
    id: strawberry.ID
    title: str
    body: str
    created_at: str = strawberry.field(description="UTC, 2024-05-01T12:00:00.000Z.")
    expires_at: str | None = strawberry.field(description="Null: the note never expires.")

    @classmethod
    def of(cls, note: Note) -> NoteType:
        return cls(
            id=strawberry.ID(note.id),
            title=note.title,
            body=note.body,
            created_at=note.created_at,
            expires_at=note.expires_at,
        )


@strawberry.input(name="NotesNoteInput")
class NoteInput:
    title: str
    body: str = ""
    ttl_seconds: float | None = strawberry.field(
        default=None, description="Seconds until the note expires; null: the default_ttl setting."
    )


def _service(info: strawberry.Info) -> NotesService:
    return info.context.hub.service(NotesService)  # type: ignore[no-any-return]


@strawberry.type(name="NotesQuery")
class NotesQuery:
    @strawberry.field(description="Live notes, oldest first.")
    def notes(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[NoteType]:
        page = page_window(first, after, bad_request)
        notes, total = _service(info).list(
            info.context.authorization, offset=page.offset, limit=page.limit
        )
        return connection([NoteType.of(n) for n in notes], total, page)

    @strawberry.field
    def note(self, info: strawberry.Info, id: strawberry.ID) -> NoteType:
        return NoteType.of(_service(info).get(info.context.authorization, id))


@strawberry.type(name="NotesMutation")
class NotesMutation:
    @strawberry.mutation
    def notes_create_note(self, info: strawberry.Info, input: NoteInput) -> NoteType:
        return NoteType.of(_service(info).create(info.context.authorization, sent_fields(input)))


@strawberry.type(name="NotesSubscription")
class NotesSubscription:
    @strawberry.subscription(description="Each note created from now on, over any protocol.")
    async def notes_note_added(self, info: strawberry.Info) -> AsyncIterator[NoteType]:
        async for note in _service(info).added(info.context.authorization):
            yield NoteType.of(note)

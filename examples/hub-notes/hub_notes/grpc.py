"""The gRPC service ``hub.notes.v1.Notes``: a thin adapter over NotesService. The host's
interceptor turns a HubError into the status of the error table."""

from __future__ import annotations

from typing import Any

import grpc

from hub.grpc.server import authorization
from hub.records import sent_fields
from hub_notes.service import Note, NotesService
from hub_notes.v1 import notes_pb2, notes_pb2_grpc


def to_message(note: Note) -> notes_pb2.Note:
    return notes_pb2.Note(**{k: v for k, v in note.as_dict().items() if v is not None})


class NotesServicer(notes_pb2_grpc.NotesServicer):
    def __init__(self, hub: Any) -> None:
        self.service = hub.service(NotesService)

    async def CreateNote(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(self.service.create(authorization(context), sent_fields(request)))

    async def ListNotes(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        notes, total = self.service.list(
            authorization(context),
            offset=request.offset,
            limit=request.limit if request.HasField("limit") else None,
        )
        return notes_pb2.ListNotesResponse(notes=[to_message(n) for n in notes], total_count=total)

    async def GetNote(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(self.service.get(authorization(context), request.id))

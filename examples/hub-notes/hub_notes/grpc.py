"""The gRPC service ``hub.notes.v1.Notes``: a thin adapter over NotesService. The host's
wrapper of every method builds the caller and turns a HubError into the status of the error
table."""

from __future__ import annotations

from typing import Any

import grpc

from hub.api import HubApi
from hub.caller import caller_of
from hub.paging import Page
from hub.records import sent_fields, to_message
from hub_notes.auth import authorize
from hub_notes.errors import bad_request
from hub_notes.service import NotesService
from hub_notes.v1 import notes_pb2, notes_pb2_grpc


class NotesServicer(notes_pb2_grpc.NotesServicer):
    def __init__(self, hub: HubApi) -> None:
        self.service = hub.service(NotesService)

    async def CreateNote(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        note = self.service.create(caller_of(context), sent_fields(request))
        return to_message(notes_pb2.Note, note)

    async def ListNotes(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        caller = caller_of(context)
        authorize(caller)  # a 401 before a limit out of bounds is a 400
        limit = request.limit if request.HasField("limit") else None
        page = self.service.list(caller, Page.of(request.offset, limit, bad_request))
        notes = [to_message(notes_pb2.Note, n) for n in page.notes]
        return notes_pb2.ListNotesResponse(notes=notes, total_count=page.total)

    async def GetNote(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        return to_message(notes_pb2.Note, self.service.get(caller_of(context), request.id))

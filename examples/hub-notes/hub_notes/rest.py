"""The REST surface, mounted by the host under ``/notes``: a thin adapter over NotesService.

Errors, the host's own 404/405/413 included, are RFC 9457 problem details."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from hub.api import HubApi
from hub.caller import caller_of
from hub.errors import HubError
from hub.http.body import read_json
from hub.http.params import int_param, reject_unknown
from hub.openapi import Param, operation
from hub.paging import MAX_LIMIT, MAX_OFFSET, Page
from hub.records import to_json
from hub.registrations import RestApi
from hub_notes.auth import authorize
from hub_notes.errors import bad_request
from hub_notes.records import Note, NoteList
from hub_notes.service import MAX_TITLE, NotesService

NOTES = "/api/notes"
LIST_PARAMS = {"offset", "limit"}
NEW_NOTE = {  # the body of a create, as the service checks it
    "type": "object",
    "properties": {
        "title": {"type": "string", "minLength": 1, "maxLength": MAX_TITLE},
        "body": {"type": "string"},
        "ttl_seconds": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 10**9},
    },
    "required": ["title"],
    "additionalProperties": False,
}


def render_error(exc: HubError) -> web.Response:
    try:
        title = HTTPStatus(exc.status).phrase
    except ValueError:
        title = "Error"
    body = {
        "type": "about:blank",
        "title": title,
        "status": exc.status,
        "detail": exc.message,
        "reason": exc.reason,
    }
    return web.Response(
        body=orjson.dumps(body),
        status=exc.status,
        content_type="application/problem+json",
    )


def _json(data: Any, status: int = 200, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(
        body=orjson.dumps(data), status=status, headers=headers, content_type="application/json"
    )


def routes(hub: HubApi) -> list[web.RouteDef]:
    service = hub.service(NotesService)

    @operation(
        "Create a note",
        body=NEW_NOTE,
        responses={201: Note},
        errors=(400, 401, 403, 413, 429),
    )
    async def create(request: web.Request) -> web.Response:
        caller = caller_of(request)
        authorize(caller, write=True)  # before reading a body it would refuse
        note = service.create(caller, await read_json(request))
        return _json(to_json(note), 201, {"Location": f"{request.path}/{note.id}"})

    @operation(
        "List the live notes, oldest first",
        params=[
            Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
            Param("limit", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}),
        ],
        responses={200: NoteList},
    )
    async def list_notes(request: web.Request) -> web.Response:
        reject_unknown(request.query, LIST_PARAMS)
        offset, limit = int_param(request.query, "offset"), int_param(request.query, "limit")
        caller = caller_of(request)
        authorize(caller)  # a 401 before a limit out of bounds is a 400
        page = service.list(caller, Page.of(offset, limit, bad_request))
        return _json(to_json(NoteList(page.notes, page.total)))

    @operation("Read a note", responses={200: Note}, errors=(401, 404))
    async def get_note(request: web.Request) -> web.Response:
        note = service.get(caller_of(request), request.match_info["id"])
        return _json(to_json(note))

    return [
        web.post(NOTES, create),
        web.get(NOTES, list_notes, allow_head=False),
        web.get(NOTES + "/{id}", get_note, allow_head=False),
    ]


def rest_api(hub: HubApi) -> RestApi:
    return RestApi(routes=routes(hub), render_error=render_error)

"""The REST surface, mounted by the host under ``/notes``: a thin adapter over NotesService.

Errors, the host's own 404/405/413 included, are RFC 9457 problem details."""

from __future__ import annotations

from http import HTTPStatus
from typing import Any

import orjson
from aiohttp import web

from hub.errors import HubError
from hub.http.body import read_json
from hub.http.params import int_param, reject_unknown
from hub.registrations import RestApi
from hub_notes.service import NotesService

NOTES = "/api/notes"
LIST_PARAMS = ("offset", "limit")


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


def routes(hub: Any) -> list[web.RouteDef]:
    service = hub.service(NotesService)

    async def create(request: web.Request) -> web.Response:
        authorization = request.headers.get("Authorization")
        service.authorize(authorization, write=True)  # before reading a body it would refuse
        note = service.create(authorization, await read_json(request))
        return _json(note.as_dict(), 201, {"Location": f"{request.path}/{note.id}"})

    async def list_notes(request: web.Request) -> web.Response:
        reject_unknown(request.query, LIST_PARAMS)
        notes, total = service.list(
            request.headers.get("Authorization"),
            offset=int_param(request.query, "offset") or 0,
            limit=int_param(request.query, "limit"),
        )
        return _json({"notes": [n.as_dict() for n in notes], "total": total})

    async def get_note(request: web.Request) -> web.Response:
        note = service.get(request.headers.get("Authorization"), request.match_info["id"])
        return _json(note.as_dict())

    return [
        web.post(NOTES, create),
        web.get(NOTES, list_notes, allow_head=False),
        web.get(NOTES + "/{id}", get_note, allow_head=False),
    ]


def rest_api(hub: Any) -> RestApi:
    return RestApi(routes=routes(hub), render_error=render_error)

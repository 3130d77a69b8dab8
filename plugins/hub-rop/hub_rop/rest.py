"""The seed's REST surface under ``/rop``, a thin adapter over :class:`RopService`. The key is
``?apiKey=``: the host's caller reads it (``presented_in``)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web
from multidict import MultiDict

from hub.api import HubApi
from hub.caller import Caller, Query, caller_of
from hub.errors import HubError
from hub.http.body import MULTIPART, URLENCODED, FormFile, read_body, read_form, read_json
from hub.http.params import reject_unknown
from hub.openapi import Param, operation
from hub.records import to_json
from hub.registrations import RestApi
from hub_rop.errors import bad_request, code_of
from hub_rop.inputs import MAX_ID, MAX_ITEMS, MAX_TEXT, MAX_URL, UPLOAD_REQUIRED
from hub_rop.records import CallReady, ManagersUpdate, OfficesUpdate, Queued, Received
from hub_rop.service import RopService

BASE = "/api/v1"
API_KEY = Query("apiKey")

# -- what the OpenAPI document says of the bodies (inputs.py checks them) ---------------------
ID = {"type": "string", "minLength": 1, "maxLength": MAX_ID}
IDS = {"type": "array", "maxItems": MAX_ITEMS, "items": ID}
NAME_PART = {"type": ["string", "null"], "maxLength": MAX_ID}
UPLOAD = {
    "type": "object",
    "properties": {
        **{name: ID for name in UPLOAD_REQUIRED},
        "audio_url": {"type": "string", "format": "uri", "maxLength": MAX_URL},
        "duration": {"type": "number", "minimum": 1, "maximum": 2700},
    },
    "required": list(UPLOAD_REQUIRED),
    "additionalProperties": False,
}
OFFICES = {
    "type": "object",
    "properties": {
        "offices": {
            "type": "array",
            "maxItems": MAX_ITEMS,
            "items": {
                "type": "object",
                "properties": {
                    "office_title": {"type": "string", "minLength": 1, "maxLength": MAX_TEXT},
                    "office_id": ID,
                    "leader_ids": IDS,
                    "managers_ids": IDS,
                },
                "required": ["office_title", "office_id"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["offices"],
    "additionalProperties": False,
}
MANAGERS = {
    "type": "object",
    "properties": {
        "managers": {
            "type": "array",
            "maxItems": MAX_ITEMS,
            "items": {
                "type": "object",
                "properties": {
                    "manager_id": ID,
                    "name": NAME_PART,
                    "surname": NAME_PART,
                    "middlename": NAME_PART,
                },
                "required": ["manager_id"],
                "additionalProperties": False,
            },
        }
    },
    "required": ["managers"],
    "additionalProperties": False,
}
PENDING = {  # upstream mode: ROP did not answer within write_wait (the host's 202)
    "type": "object",
    "properties": {
        name: {"type": "string"} for name in ("status", "write_id", "message", "location")
    },
    "required": ["status", "write_id", "message", "location"],
}
UPSTREAM = (502, 503, 504)  # the file host behind audio_url, or ROP in upstream mode


def render_error(exc: HubError) -> web.Response:
    """rop's error body; in upstream mode a refusal of the fronted ROP is its own body."""
    body = exc.body if exc.body is not None else {"error": code_of(exc), "message": exc.message}
    return web.Response(
        body=orjson.dumps(body),
        status=exc.status,
        content_type="application/json",
        charset="utf-8",
    )


def _ok(record: Any) -> web.Response:
    return web.Response(
        body=orjson.dumps(to_json(record)), content_type="application/json", charset="utf-8"
    )


def _caller(request: web.Request, allowed: set[str]) -> Caller:
    """A parameter the endpoint does not take is a 400, before the key is looked at."""
    reject_unknown(request.query, allowed)
    return caller_of(request)


def _form(form: MultiDict[str | FormFile]) -> dict[str, Any]:
    fields: dict[str, Any] = {}
    for name in form:
        values = form.getall(name)
        if len(values) > 1:
            raise bad_request(f"{name}: given more than once")
        if isinstance(values[0], FormFile):
            raise bad_request(f"{name}: expected a text field, not a file")
        fields[name] = values[0]
    return fields


async def _upload_body(request: web.Request) -> Any:
    """multipart/form-data (the seed's curl), urlencoded or JSON."""
    if request.content_type == "application/json":
        return await read_json(request)
    if request.content_type in (MULTIPART, URLENCODED):
        return _form(await read_form(request))
    if not request.body_exists:
        return {}
    raise bad_request(
        f"Content-Type: expected {MULTIPART}, {URLENCODED} or application/json,"
        f" got {request.content_type!r}"
    )


def routes(hub: HubApi) -> list[web.RouteDef]:
    service = hub.service(RopService)
    only_key = {API_KEY.name}

    @operation(
        "Upload a call's recording by its URL",
        body=UPLOAD,
        body_types=(MULTIPART, URLENCODED, "application/json"),
        responses={200: Queued, 202: PENDING},
        errors=(400, 401, 409, 413, 429, *UPSTREAM),
    )
    async def audio_upload(request: web.Request) -> web.Response:
        caller = _caller(request, only_key)
        service.access.reader(caller)  # 401 before the body is read
        return _ok(await service.upload(caller, await _upload_body(request)))

    @operation(
        "Replace the office structure",
        body=OFFICES,
        responses={200: OfficesUpdate, 202: PENDING},
        errors=(400, 401, 413, 429, *UPSTREAM),
    )
    async def offices_update(request: web.Request) -> web.Response:
        caller = _caller(request, only_key)
        service.access.reader(caller)
        return _ok(await service.update_offices(caller, await read_json(request)))

    @operation(
        "Add or update managers",
        body=MANAGERS,
        responses={200: ManagersUpdate, 202: PENDING},
        errors=(400, 401, 413, 429, *UPSTREAM),
    )
    async def managers_update(request: web.Request) -> web.Response:
        caller = _caller(request, only_key)
        service.access.reader(caller)
        return _ok(await service.update_managers(caller, await read_json(request)))

    @operation(
        "Whether an analytic table's result for a call is ready",
        params=[Param("tab", ID, required=True), Param("call", ID, required=True)],
        responses={200: CallReady},
        errors=(400, 401, 404, 429, *UPSTREAM),
    )
    async def call_ready(request: web.Request) -> web.Response:
        caller = _caller(request, {API_KEY.name, "tab", "call"})
        query = request.query
        return _ok(await service.call_ready(caller, query.get("tab"), query.get("call")))

    @operation(
        "Upstream mode: ROP posts a checklist's or table's result",
        body={"type": "object"},
        responses={200: Received},
        errors=(400, 403, 404, 413),
        security=[],
    )
    async def receive(request: web.Request) -> web.Response:
        """Upstream mode: ROP posts a checklist's or table's result (see ``receivers``)."""
        caller = caller_of(request)
        return _ok(service.receive(caller, request.match_info["token"], await read_body(request)))

    return [
        web.post(f"{BASE}/calls/audio-upload", audio_upload),
        web.post(f"{BASE}/settings/offices-update", offices_update),
        web.post(f"{BASE}/settings/managers-update", managers_update),
        web.get(f"{BASE}/tables/call-ready", call_ready, allow_head=False),
        web.post("/receivers/{token}", receive),
    ]


def rest_api(hub: HubApi) -> RestApi:
    return RestApi(
        routes=routes(hub),
        render_error=render_error,
        max_body=hub.settings_for("rop").max_body,
        presented_in=(API_KEY,),
    )

"""ERA's REST surface, a thin adapter over :class:`EraService`."""

from __future__ import annotations

import re
from typing import Any

import orjson
from aiohttp import web

from hub.api import HubApi
from hub.caller import Caller, caller_of
from hub.errors import HubError
from hub.http.body import read_json
from hub.http.params import bad_param, bool_param, int_param, json_param, reject_unknown
from hub.openapi import Param, operation
from hub.paging import MAX_LIMIT, MAX_OFFSET, Page
from hub.records import to_json
from hub.registrations import RestApi
from hub_era.errors import PLUGIN, bad_request
from hub_era.fields import (
    ALIASES,
    KEY_FIELDS,
    LEAVES,
    OPTS,
    STRING_FIELDS,
    field_path,
    orders_from_json,
)
from hub_era.records import IntegrationPoint
from hub_era.service import EraService

BASE = "/rest/v1/service/integration_points"
CONTENT_TYPE = "application/json; charset=utf-8"
LIST_PARAMS = {"offset", "limit", "mask", "filter", "order", "flat"}
ONE_PARAMS = {"mask", "flat"}
POINT = "integration_point"  # the route of one channel, named for the links that point to it
CHALLENGE = f'Bearer realm="{PLUGIN}"'  # WWW-Authenticate of the hub's own 401


def render_error(exc: HubError) -> web.Response:
    """ERA's error shape; in upstream mode the vendor's own error body, as it sent it. The
    hub's own 401 names the scheme it wants (RFC 9110 requires the challenge); a vendor's 401
    refused the hub's token, not the client's, so it gets none."""
    status = exc.status
    body = exc.body
    if not isinstance(body, bytes):
        body = orjson.dumps({"error_code": 1000 + status, "error_message": exc.message})
    vendors = str(exc.reason).startswith("upstream_")  # upstream_unauthorized: the hub's token
    headers = {"WWW-Authenticate": CHALLENGE} if status == 401 and not vendors else {}
    return web.Response(
        body=body,
        status=status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def _ok(body: bytes, status: int = 200) -> web.Response:
    return web.Response(
        body=body,
        status=status,
        headers={"Content-Type": CONTENT_TYPE},
    )


def _mask(query: Any) -> list[str] | None:
    raw = query.get("mask")
    if raw is None:
        return None
    names = [n.strip() for n in raw.split(",") if n.strip()]
    if not names:
        raise bad_request("mask: name at least one field")
    return [field_path(n, what="mask") for n in names]


def _sent(query: Any, names: set[str]) -> list[tuple[str, str]]:
    """The query parameters as the client sent them (the first of each), for the vendor."""
    return [(name, query[name]) for name in sorted(names) if name in query]


def _query(request: web.Request, allowed: set[str] | None = None) -> Any:
    """One rule for every endpoint: a query parameter it does not take is a 400."""
    query = request.query
    if allowed:
        reject_unknown(query, allowed)
    elif query:
        raise bad_param(f"{next(iter(query))}: unknown query parameter; this endpoint takes none")
    return query


def _present_json(query: Any, name: str) -> Any:
    """A JSON query parameter; sent as ``null`` is a 400 like any other value of the wrong type
    (only leaving it out means "none")."""
    value = json_param(query, name)
    if value is None and name in query:
        raise bad_param(f"{name}: expected JSON other than null")
    return value


# -- what the OpenAPI document says of each route ------------------------------------------------
POINT_REF = {"$ref": "#/components/schemas/IntegrationPoint"}
SHOWN = {  # mask and flat choose the keys: the whole channel, or the fields asked for
    "anyOf": [POINT_REF, {"type": "object", "description": "the fields named by mask/flat"}]
}
FIELD_NAME = "|".join(re.escape(name) for name in (*LEAVES, "opts", "ext", *ALIASES))
MASK = Param(
    "mask",
    {"type": "string", "pattern": f"^(?:{FIELD_NAME})(?:,(?:{FIELD_NAME}))*$"},
    description="comma-separated fields to output, dotted for nested: code,opts.title",
)
FLAT = Param(  # what bool_param reads: true/1 or false/0 (any case), empty is false
    "flat",
    {"type": "string", "pattern": "^(?:[Tt][Rr][Uu][Ee]|[Ff][Aa][Ll][Ss][Ee]|1|0)?$"},
    description="true: nested fields as dotted keys",
)
NO_NUL = r"^[^\u0000]*$"  # PostgreSQL text cannot hold NUL: no stored string has one
FILLED = r"^[^\u0000]*[^\s\u0000][^\u0000]*$"  # and something that is not white space
STRING = {"type": "string", "maxLength": 2048, "pattern": NO_NUL}
CHANGES = {
    "type": "object",
    "properties": {
        **{name: STRING for name in STRING_FIELDS},
        "code": {"type": "string", "minLength": 1, "maxLength": 255, "pattern": FILLED},
        "type": {**STRING, "minLength": 1, "pattern": FILLED},
        "opts": {
            "type": "object",
            "properties": {
                name: STRING if kind is str else {"type": "boolean"} for name, kind in OPTS.items()
            },
            "additionalProperties": False,
        },
    },
    "additionalProperties": False,
    "description": "id, token_local and ext are set by the server: sending them is a 400",
}
NEW_POINT = {**CHANGES, "required": ["code", "type"]}
LOOKUP_KEY = {
    "anyOf": [
        {"type": "string", "description": "searched in id, code and token_local"},
        {
            "type": "object",
            "properties": {name: {"type": "string"} for name in KEY_FIELDS},
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
        },
    ]
}
TOKEN_LINK = {
    "type": "object",
    "properties": {
        "integration_point": {
            "type": "object",
            "properties": {
                "id": {"type": "string"},
                "_links": {
                    "type": "object",
                    "properties": {
                        "self": {
                            "type": "object",
                            "properties": {"href": {"type": "string"}},
                            "required": ["href"],
                        }
                    },
                    "required": ["self"],
                },
            },
            "required": ["id", "_links"],
        }
    },
    "required": ["integration_point"],
}
UPSTREAM = (502, 503, 504)  # upstream mode: the vendor unreachable, slow or answering nonsense
WRITE_ERRORS = (400, 401, 403, 409, 413, *UPSTREAM)


def routes(hub: HubApi) -> list[web.RouteDef]:
    service = hub.service(EraService)

    def auth(request: web.Request) -> Caller:
        """The caller, checked before anything of the request is read (a 401 comes first)."""
        caller = caller_of(request)
        service.authorize(caller)
        return caller

    @operation(
        "Create an integration point",
        body=NEW_POINT,
        responses={200: IntegrationPoint},
        errors=WRITE_ERRORS,
    )
    async def create(request: web.Request) -> web.Response:
        caller = auth(request)
        _query(request)
        return _ok(await service.create_json(caller, await read_json(request)))

    @operation(
        "List integration points",
        params=[
            Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
            Param("limit", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}),
            MASK,
            Param("filter", description='JSON object of field to value: {"type":"telegram"}'),
            Param("order", description='JSON array of fields or {"field": "asc"|"desc"}'),
            FLAT,
        ],
        responses={200: {"type": "array", "items": SHOWN}},
        errors=(400, 401, 403, *UPSTREAM),
    )
    async def list_points(request: web.Request) -> web.Response:
        caller = auth(request)
        query = _query(request, LIST_PARAMS)
        filter_ = _present_json(query, "filter")
        order = _present_json(query, "order")
        body = await service.list_json(
            caller,
            filter=filter_,
            order=orders_from_json(order) if order is not None else (),
            window=Page.of(int_param(query, "offset"), int_param(query, "limit"), bad_request),
            mask=_mask(query),
            flat=bool_param(query, "flat"),
            sent=_sent(query, LIST_PARAMS),
        )
        return _ok(body)

    @operation(
        "Look up the ids of integration points by a key field (HTTP method LOOKUP)",
        body=LOOKUP_KEY,
        responses={200: {"type": "array", "items": {"type": "string"}}},
        errors=(400, 401, 403, 404, 413, *UPSTREAM),
    )
    async def lookup(request: web.Request) -> web.Response:
        caller = auth(request)
        _query(request)
        return _ok(orjson.dumps(await service.lookup(caller, await read_json(request))))

    @operation(
        "An integration point",
        params=[MASK, FLAT],
        responses={200: SHOWN},
        errors=(400, 401, 403, 404, *UPSTREAM),
    )
    async def get_one(request: web.Request) -> web.Response:
        caller = auth(request)
        query = _query(request, ONE_PARAMS)
        mask, flat = _mask(query), bool_param(query, "flat")
        ident = request.match_info["id"]
        sent = _sent(query, ONE_PARAMS)
        return _ok(await service.get_json(caller, ident, mask=mask, flat=flat, sent=sent))

    @operation(
        "Change an integration point (a merge: only the fields sent change)",
        body=CHANGES,
        responses={200: IntegrationPoint},
        errors=(*WRITE_ERRORS, 404),
    )
    async def update(request: web.Request) -> web.Response:
        caller = auth(request)
        _query(request)
        changes = await read_json(request)
        point = await service.update(caller, request.match_info["id"], changes)
        return _ok(orjson.dumps(to_json(point)))

    @operation(
        "Delete an integration point",
        responses={204: None},
        errors=(400, 401, 403, 404, *UPSTREAM),
    )
    async def delete(request: web.Request) -> web.Response:
        caller = auth(request)
        _query(request)
        await service.delete(caller, request.match_info["id"])
        return web.Response(status=204)

    @operation(
        "The integration point whose token_local is this token",
        responses={200: TOKEN_LINK},
        errors=(400, 401, 403, 404, *UPSTREAM),
    )
    async def by_token(request: web.Request) -> web.Response:
        caller = auth(request)
        _query(request)
        ident = await service.by_token(caller, request.match_info["token"])
        # where this app is served: /era/rest/... under the hub, /rest/... on its own listener
        href = str(request.app.router[POINT].url_for(id=ident))
        return _ok(
            orjson.dumps({"integration_point": {"id": ident, "_links": {"self": {"href": href}}}})
        )

    return [
        web.post(BASE, create),
        web.get(BASE, list_points, allow_head=False),
        web.route("LOOKUP", BASE, lookup),
        web.get(BASE + "/{id}", get_one, allow_head=False, name=POINT),
        web.patch(BASE + "/{id}", update),
        web.delete(BASE + "/{id}", delete),
        web.get("/rest/v1/service/integration_tokens/{token}", by_token, allow_head=False),
    ]


def rest_api(hub: HubApi) -> RestApi:
    return RestApi(routes=routes(hub), render_error=render_error)


__all__ = ["PLUGIN", "rest_api"]

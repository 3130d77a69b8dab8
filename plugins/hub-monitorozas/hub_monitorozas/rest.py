"""The seed's REST surface under ``/monitorozas/api/v1``: the ``{"success": ...}`` envelope,
its error codes, and 404/405 answers that name the resource, over the service layer."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from hub.api import HubApi
from hub.caller import Caller, caller_of
from hub.errors import HubError
from hub.http.body import read_json
from hub.http.params import int_param
from hub.openapi import Param, operation
from hub.paging import MAX_LIMIT, MAX_OFFSET, Page
from hub.records import to_json
from hub.registrations import RestApi
from hub_monitorozas.errors import error, invalid_field
from hub_monitorozas.inventory import Records
from hub_monitorozas.records import BlacklistMonitor, CheckResult, Deleted, Device, Identity
from hub_monitorozas.service import MonitorozasService, page
from hub_monitorozas.settings import PLUGIN
from hub_monitorozas.validation import (
    MAX_ID,
    MAX_LOCATION,
    ORIGIN_CHECKS,
    SCHEMES,
    SERVICE_PORTS,
    TARGET_TYPES,
    WEB_CHECKS,
)

API = "/api/v1"
DEVICES = f"{API}/devices"
MONITORS = f"{API}/blacklist-monitors"
# the host's own failures (unknown path, body too large, bad JSON, a crash) in the seed's codes
HOST_REASONS = {
    "not_found": "unknown_route",
    "method_not_allowed": "method_not_allowed",
    "payload_too_large": "payload_too_large",
    "request_entity_too_large": "payload_too_large",
    "bad_json": "invalid_json",
    "bad_body": "invalid_json",
    "internal": "server_error",
}
STATUS_CODES = {
    400: "bad_request",
    401: "invalid_api_key",
    403: "forbidden",
    404: "unknown_route",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    429: "rate_limit_exceeded",
}


# -- the OpenAPI document's shapes: the envelope, and the bodies create takes (validation.py) --
def envelope(data: Any) -> dict[str, Any]:
    """``{"success": true, "data": ...}`` around a record type (``list[Device]``: a list)."""
    return {
        "type": "object",
        "properties": {"success": {"const": True}, "data": data},
        "required": ["success", "data"],
    }


def optional(schema: dict[str, Any]) -> dict[str, Any]:
    """An optional field of create: null is the same as leaving it out."""
    return {"anyOf": [schema, {"type": "null"}]}


BOOLEAN = optional({"enum": [0, 1, True, False, "0", "1", "true", "false"]})
PORT = optional({"type": "integer", "minimum": 1, "maximum": 65535})
SCHEME = optional({"enum": list(SCHEMES)})
TARGET = {"type": "string", "minLength": 1, "maxLength": 253, "description": "a host name or IP"}
BY_TARGET_TYPE = [  # what target_value is for each target_type
    {
        "properties": {
            "target_type": {"const": "ip"},
            "target_value": {"anyOf": [{"format": "ipv4"}, {"format": "ipv6"}]},
        }
    },
    {"properties": {"target_type": {"const": "domain"}, "target_value": {"format": "hostname"}}},
]
# the admin token may also name the owner, ``user_id``; a key that sends it gets unknown_field
DEVICE_INPUT = {
    "type": "object",
    "properties": {
        "target_type": {"enum": list(TARGET_TYPES)},
        "target_value": TARGET,
        "service_type": {"enum": list(SERVICE_PORTS)},
        "scheme": SCHEME,
        "port": PORT,
        "host_header": optional({"type": "string"}),
        "proxy_enabled": BOOLEAN,
        "origin_host": optional({"type": "string"}),
        "origin_scheme": SCHEME,
        "origin_port": PORT,
        **{check: BOOLEAN for check in (*WEB_CHECKS, *ORIGIN_CHECKS)},
        "expect_status": optional({"type": "integer", "minimum": 100, "maximum": 599}),
        "location": optional({"type": "string", "maxLength": MAX_LOCATION}),
        "is_enabled": BOOLEAN,
    },
    "required": ["target_type", "target_value", "service_type"],
    "additionalProperties": False,
    "anyOf": BY_TARGET_TYPE,
    "description": "scheme, host_header and the origin's fields are for service_type web only;"
    " other services take proxy_enabled false, expect_status 200 and the checks false or null"
    " (a device's own answer is a create body); port is required for tcp",
}
MONITOR_INPUT = {
    "type": "object",
    "properties": {
        "target_type": {"enum": list(TARGET_TYPES)},
        "target_value": TARGET,
        "is_enabled": BOOLEAN,
    },
    "required": ["target_type", "target_value"],
    "additionalProperties": False,
    "anyOf": BY_TARGET_TYPE,
}
ID = Param("id", {"type": "integer", "minimum": 1, "maximum": MAX_ID}, required=True)
PAGING = [  # without either, the whole list
    Param("offset", {"type": "integer", "minimum": 0, "maximum": MAX_OFFSET}),
    Param("limit", {"type": "integer", "minimum": 0, "maximum": MAX_LIMIT}),
]
# a bad value; no or a bad key; a missing scope or address; the rate limit; in upstream mode,
# the vendor's deployment failing, unreachable or out of budget, or too slow
KEYED = (400, 401, 403, 429, 502, 503, 504)


def error_code(exc: HubError) -> str:
    if isinstance(exc.reason, str) and exc.reason:
        return HOST_REASONS.get(exc.reason, exc.reason)
    return STATUS_CODES.get(exc.status, "server_error")


def challenge(code: str) -> str:
    """The ``WWW-Authenticate`` of the hub's own 401 (RFC 9110 requires one; RFC 6750 says
    how a wrong bearer token is told from a missing one)."""
    wrong = ', error="invalid_token"' if code == "invalid_api_key" else ""
    return f'Bearer realm="{PLUGIN}"{wrong}'


def render_error(exc: HubError) -> web.Response:
    """The seed's error body; in upstream mode a refusal of the vendor's is its body as it is
    (without a challenge: the vendor refused the hub's key, not the client's)."""
    code = error_code(exc)
    body = (
        exc.body
        if isinstance(exc.body, bytes)
        else orjson.dumps({"success": False, "error": code, "message": exc.message})
    )
    vendors = isinstance(exc.body, bytes) or code.startswith("upstream_")
    headers = {"WWW-Authenticate": challenge(code)} if exc.status == 401 and not vendors else {}
    return web.Response(
        body=body,
        status=exc.status,
        headers=headers,
        content_type="application/json",
        charset="utf-8",
    )


def ok(record: Any, status: int = 200) -> web.Response:
    """The envelope around a record (or a list of them)."""
    return web.Response(
        body=orjson.dumps({"success": True, "data": to_json(record)}),
        status=status,
        content_type="application/json",
        charset="utf-8",
    )


def ok_json(data: bytes) -> web.Response:
    """The envelope around JSON text the service made already."""
    return web.Response(
        body=b'{"success":true,"data":' + data + b"}",
        content_type="application/json",
        charset="utf-8",
    )


def query_int(request: web.Request, name: str) -> int | None:
    """The host's integer grammar (``hub.http.params``) with this plugin's error code."""
    try:
        return int_param(request.query, name)
    except HubError as exc:
        raise invalid_field(exc.message) from None


def window(request: web.Request) -> Page | None:
    """``?offset=&limit=`` (the host's paging bounds); without either, the seed's whole list."""
    if "offset" not in request.query and "limit" not in request.query:
        return None
    return page(query_int(request, "offset"), query_int(request, "limit"))


def routes(hub: HubApi) -> list[web.RouteDef]:
    service = hub.service(MonitorozasService)

    def caller(request: web.Request, scope: str | None = None) -> Caller:
        """The caller, checked before anything of the request is read (a 401 comes first), with
        the ``scope`` a request with a body needs (a read-only key's create is a 403 whatever
        it sends, as over GraphQL and gRPC)."""
        who = caller_of(request)
        holder = service.authorize(who)
        if scope is not None:
            holder.require(scope)
        return who

    def ident(request: web.Request) -> str | None:
        return request.query.get("id")

    @operation(
        "The key's user, key id and scopes", responses={200: envelope(Identity)}, errors=KEYED
    )
    async def me(request: web.Request) -> web.Response:
        return ok(await service.me(caller(request)))

    def inventory_routes(
        path: str, records: Records[Any], record: type, body: dict[str, Any], what: str
    ) -> list[tuple[str, str, Any]]:
        @operation(
            f"The user's {what}s (the admin's: everyone's)",
            params=PAGING,
            responses={200: envelope(list[record])},  # type: ignore[valid-type]
            errors=KEYED,
        )
        async def list_all(request: web.Request) -> web.Response:
            return ok_json(await records.list_json(caller(request), window(request)))

        @operation(
            f"Create a {what}",
            body=body,
            responses={201: envelope(record)},
            errors=(*KEYED, 409, 413),
        )
        async def create(request: web.Request) -> web.Response:
            who = caller(request, "write")
            return ok(await records.create(who, await read_json(request)), 201)

        @operation(
            f"Delete one of the user's {what}s",
            params=[ID],
            responses={200: envelope(Deleted)},
            errors=(*KEYED, 404),
        )
        async def delete(request: web.Request) -> web.Response:
            return ok(await records.delete(caller(request), ident(request)))

        return [
            ("GET", path, list_all),
            ("POST", f"{path}/create", create),
            ("DELETE", f"{path}/delete", delete),
        ]

    @operation(
        "Check a device now and answer it updated (local mode)",
        params=[ID],
        responses={200: envelope(Device)},
        errors=(*KEYED, 404, 409),
    )
    async def check_device(request: web.Request) -> web.Response:
        return ok(await service.check_now(caller(request), ident(request)))

    @operation(
        "A device's check results, newest first (local mode)",
        params=[ID],
        responses={200: envelope(list[CheckResult])},
        errors=(*KEYED, 404, 409),
    )
    async def device_history(request: web.Request) -> web.Response:
        return ok(service.history(caller(request), ident(request)))

    table: list[tuple[str, str, Any]] = [
        ("GET", f"{API}/me", me),
        *inventory_routes(DEVICES, service.device_records, Device, DEVICE_INPUT, "device"),
        ("POST", f"{DEVICES}/check-now", check_device),
        ("GET", f"{DEVICES}/history", device_history),
        *inventory_routes(
            MONITORS, service.monitor_records, BlacklistMonitor, MONITOR_INPUT, "blacklist monitor"
        ),
    ]
    allowed: dict[str, list[str]] = {}
    for method, path, _ in table:
        allowed.setdefault(path, []).append(method)

    async def unknown(request: web.Request) -> web.Response:
        """Every other path or method under the prefix, answered with the seed's codes."""
        path = "/" + request.match_info["tail"]
        if path in allowed:
            raise error(
                405,
                f"{request.method} is not allowed on {path}; use {', '.join(allowed[path])}",
                "method_not_allowed",
            )
        if path.startswith(DEVICES + "/"):
            code, what = "unknown_devices_route", "devices"
        elif path.startswith(MONITORS + "/"):
            code, what = "unknown_blacklist_monitors_route", "blacklist-monitors"
        else:
            code, what = "unknown_route", "API"
        raise error(404, f"no {what} route {path}", code)

    async def unknown_with_allow(request: web.Request) -> web.StreamResponse:
        try:
            return await unknown(request)
        except HubError as exc:
            response = render_error(exc)
            path = "/" + request.match_info["tail"]
            if exc.status == 405:
                response.headers["Allow"] = ", ".join(allowed[path])
            return response

    return [
        *(web.route(method, path, handler) for method, path, handler in table),
        web.route("*", "/{tail:.*}", unknown_with_allow),
    ]


def rest_api(hub: HubApi) -> RestApi:
    max_body = hub.service(MonitorozasService).settings.max_body
    return RestApi(routes=routes(hub), render_error=render_error, max_body=max_body)

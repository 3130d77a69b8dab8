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
from hub.paging import Page
from hub.records import to_json
from hub.registrations import RestApi
from hub_monitorozas.errors import error, invalid_field
from hub_monitorozas.inventory import Records
from hub_monitorozas.service import MonitorozasService, page

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


def error_code(exc: HubError) -> str:
    if isinstance(exc.reason, str) and exc.reason:
        return HOST_REASONS.get(exc.reason, exc.reason)
    return STATUS_CODES.get(exc.status, "server_error")


def render_error(exc: HubError) -> web.Response:
    """The seed's error body; in upstream mode a refusal of the vendor's is its body as it is."""
    body = (
        exc.body
        if isinstance(exc.body, bytes)
        else orjson.dumps({"success": False, "error": error_code(exc), "message": exc.message})
    )
    return web.Response(
        body=body,
        status=exc.status,
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

    def caller(request: web.Request) -> Caller:
        """The caller, checked before anything of the request is read (a 401 comes first)."""
        who = caller_of(request)
        service.authorize(who)
        return who

    def ident(request: web.Request) -> str | None:
        return request.query.get("id")

    async def me(request: web.Request) -> web.Response:
        return ok(await service.me(caller(request)))

    def inventory_routes(path: str, records: Records[Any]) -> list[tuple[str, str, Any]]:
        async def list_all(request: web.Request) -> web.Response:
            return ok_json(await records.list_json(caller(request), window(request)))

        async def create(request: web.Request) -> web.Response:
            who = caller(request)
            return ok(await records.create(who, await read_json(request)), 201)

        async def delete(request: web.Request) -> web.Response:
            return ok(await records.delete(caller(request), ident(request)))

        return [
            ("GET", path, list_all),
            ("POST", f"{path}/create", create),
            ("DELETE", f"{path}/delete", delete),
        ]

    async def check_device(request: web.Request) -> web.Response:
        return ok(await service.check_now(caller(request), ident(request)))

    async def device_history(request: web.Request) -> web.Response:
        return ok(service.history(caller(request), ident(request)))

    table: list[tuple[str, str, Any]] = [
        ("GET", f"{API}/me", me),
        *inventory_routes(DEVICES, service.device_records),
        ("POST", f"{DEVICES}/check-now", check_device),
        ("GET", f"{DEVICES}/history", device_history),
        *inventory_routes(MONITORS, service.monitor_records),
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

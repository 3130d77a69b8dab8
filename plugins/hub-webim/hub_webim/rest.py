"""Webim's monitoring endpoints, a thin adapter over :class:`WebimService`. Paths are the
documented ones, relative to the mount point (``/webim``, or the root of an own listener)."""

from __future__ import annotations

from typing import Any

import orjson
from aiohttp import web

from hub.errors import HubError
from hub.http.params import bool_param
from hub.registrations import RestApi
from hub_webim.metrics import render_metrics
from hub_webim.service import WebimService

JSON = "application/json"


def render_error(exc: HubError) -> web.Response:
    """Webim's own error body, ``{"result": "error", "e": "..."}`` (connect-to-db's shape)."""
    headers = {}
    if exc.status == 401 and exc.reason != "bad_auth_token":
        headers["WWW-Authenticate"] = 'Basic realm="webim"'
    return web.Response(
        body=orjson.dumps({"result": "error", "e": exc.message}),
        status=exc.status,
        headers=headers,
        content_type=JSON,
    )


def _json(data: Any) -> web.Response:
    return web.Response(body=orjson.dumps(data), content_type=JSON)


def routes(hub: Any) -> list[web.RouteDef]:
    service = hub.service(WebimService)

    def auth(request: web.Request) -> None:
        service.authorize(request.headers.get("Authorization"))

    async def metrics(request: web.Request) -> web.Response:
        auth(request)
        body, content_type = render_metrics(hub)
        return web.Response(body=body, headers={"Content-Type": content_type})

    async def pingservice(request: web.Request) -> web.Response:
        service.authorize_operator(request.cookies.get("WEBIM_AUTH_TOKEN"))
        query = request.query
        return _json(service.ping(query.get("pinger-id"), query.get("ts")))

    async def monitor(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.monitor())

    async def connect_to_db(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.connect_to_db())

    async def timer_stats(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.timer_stats())

    async def accounts_stat(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.accounts_stat())

    async def zabbix_tornado(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.zabbix_tornado())

    async def zabbix_channels(request: web.Request) -> web.Response:
        auth(request)
        return _json({"channels": service.channels()})

    async def collected(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.collected_to_store_objects(request.query))

    async def object_stats(request: web.Request) -> web.Response:
        auth(request)
        return _json(await service.object_stats())

    async def instance_id(request: web.Request) -> web.Response:
        auth(request)
        return web.Response(text=service.instance_id, content_type="text/plain")

    async def account_state(request: web.Request) -> web.Response:
        auth(request)
        query = request.query
        return _json(service.account_state(query.get("action"), query.get("account"), request.host))

    async def tornado_ports(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.tornado_ports())

    async def env_list(request: web.Request) -> web.Response:
        auth(request)
        return _json(service.environments())

    async def info(request: web.Request) -> web.Response:
        auth(request)
        from hub_webim.phpdump import var_dump

        text = var_dump(service.info(request.host, request.scheme))
        return web.Response(text=text, content_type="text/html", charset="UTF-8")

    async def set_log_level(request: web.Request) -> web.Response:
        auth(request)
        query = request.query
        current = bool_param(query, "current_node_only") if "current_node_only" in query else None
        return _json(service.set_log_level(query.get("name"), query.get("level"), current))

    get = [
        ("/metrics", metrics),
        ("/l/o/pingservice", pingservice),
        ("/l/a/monitor", monitor),
        ("/l/a/monitor/connect-to-db", connect_to_db),
        ("/l/a/monitor/timer-stats", timer_stats),
        ("/l/a/monitor/accounts-stat", accounts_stat),
        ("/l/a/monitor/zabbix/tornado", zabbix_tornado),
        ("/l/a/monitor/zabbix/channels", zabbix_channels),
        ("/l/a/monitor/collected-to-store-objects", collected),
        ("/l/a/monitor/set-log-level", set_log_level),
        ("/l/a/object-stats", object_stats),
        ("/l/i/instance-id", instance_id),
        ("/l/i/account-state", account_state),
        ("/webim/service/monitor/get-tornado-ports.php", tornado_ports),
        ("/webim/service/monitor/get-all-env-list.php", env_list),
        ("/webim/service/info.php", info),
    ]
    return [web.get(path, handler) for path, handler in get]


def rest_api(hub: Any) -> RestApi:
    return RestApi(routes=routes(hub), render_error=render_error)

"""Webim's monitoring endpoints, a thin adapter over :class:`WebimService`. Paths are the
documented ones, relative to the mount point (``/webim``, or the root of an own listener).
Bodies are the records as JSON, except where Webim answers a map (``class -> count``,
``channel -> {error_cnt}``, ``timer -> stats``) or one accounts-stat row per account."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import orjson
from aiohttp import web

from hub.api import HubApi
from hub.caller import caller_of
from hub.errors import HubError
from hub.http.params import bool_param
from hub.openapi import Param, operation
from hub.records import to_json
from hub.registrations import RestApi
from hub_webim.accounts import MAX_NUM
from hub_webim.auth import PRESENTED_IN, require_service
from hub_webim.metrics import render_metrics
from hub_webim.phpdump import var_dump
from hub_webim.records import (
    AccountRow,
    AccountsStat,
    AccountState,
    AccountsTotal,
    ChannelErrors,
    Environment,
    LogLevelChange,
    Monitor,
    ObjectCount,
    Result,
    TimerFailure,
    TimerStats,
    ZabbixTornado,
)
from hub_webim.service import WebimService
from hub_webim.storage import COLLECTORS
from hub_webim.system import LEVELS

JSON = "application/json"
# -- the OpenAPI document's shapes of the maps and lists built here by hand ---------------------
COUNTS = {"type": "object", "additionalProperties": {"type": "integer"}}
TIMER_STATS = {
    "type": "object",
    "properties": {
        "last_min": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {
                    "count": {"type": "integer"},
                    "execution_times": {"type": "array", "items": {"type": "number"}},
                    "func_name": {"type": "string"},
                },
                "required": ["count", "execution_times", "func_name"],
            },
        },
        "failed": list[TimerFailure],
    },
    "required": ["last_min", "failed"],
}
ACCOUNTS_STAT = {  # not prefixItems: schemathesis (4.x) reads it as draft 4's items
    "type": "array",
    "description": "the TOTAL row first, then one row per account",
    "items": {"anyOf": [AccountsTotal, AccountRow]},
    "minItems": 1,
}
CHANNELS = {
    "type": "object",
    "properties": {
        "channels": {
            "type": "object",
            "additionalProperties": {
                "type": "object",
                "properties": {"error_cnt": {"type": "integer"}},
                "required": ["error_cnt"],
            },
        }
    },
    "required": ["channels"],
}
SERVICE = ("basic",)  # Authorization: Basic (or the admin's Bearer) on every endpoint but one
UPSTREAM = (502, 503, 504)  # in upstream mode: the fronted Webim failed, is unreachable or slow
ANSWERS = (401, *UPSTREAM)


def render_error(exc: HubError) -> web.Response:
    """Webim's own error body, ``{"result": "error", "e": "..."}`` (connect-to-db's shape)."""
    headers = {}
    upstream = str(exc.reason).startswith("upstream_")  # the vendor refused, not the caller
    if exc.status == 401 and exc.reason != "bad_auth_token" and not upstream:
        headers["WWW-Authenticate"] = 'Basic realm="webim"'
    return web.Response(
        body=orjson.dumps({"result": "error", "e": exc.message}),
        status=exc.status,
        headers=headers,
        content_type=JSON,
    )


def _json(data: Any, *, camel_case: bool = False) -> web.Response:
    return web.Response(body=orjson.dumps(to_json(data, camel_case=camel_case)), content_type=JSON)


def _objects(objects: Sequence[ObjectCount]) -> dict[str, int]:
    return {o.class_name: o.count for o in objects}


def _channels(channels: Sequence[ChannelErrors]) -> dict[str, Any]:
    return {"channels": {c.channel: {"error_cnt": c.error_cnt} for c in channels}}


def _timer_stats(stats: TimerStats) -> dict[str, Any]:
    last_min = {}
    for timer in stats.last_min:
        row = to_json(timer)
        last_min[row.pop("timer")] = row
    return {"last_min": last_min, "failed": stats.failed}


def _accounts_stat(stat: AccountsStat) -> list[Any]:
    """TOTAL, then each account's row without ``blocked`` (zabbix/tornado's business)."""
    rows = [to_json(stat.total)]
    for account in stat.accounts:
        row = to_json(account)
        del row["blocked"]
        rows.append(row)
    return rows


def routes(hub: HubApi) -> list[web.RouteDef]:
    service = hub.service(WebimService)

    @operation(
        "Webim's state and the hub's process in the Prometheus text format",
        responses={200: {"type": "string"}},
        response_type="text/plain",
        errors=ANSWERS,
        security=SERVICE,
    )
    async def metrics(request: web.Request) -> web.Response:
        upstream = await service.upstream_metrics(caller_of(request))
        body, content_type = render_metrics(hub, upstream)
        return web.Response(body=body, headers={"Content-Type": content_type})

    @operation(
        "An operator's ping; 503 when the chat backend's database does not answer",
        params=[Param("pinger-id", int, required=True), Param("ts", float, required=True)],
        responses={200: Result},
        errors=(400, *ANSWERS),
        security=["WEBIM_AUTH_TOKEN"],
    )
    async def pingservice(request: web.Request) -> web.Response:
        query = request.query
        result = await service.ping(caller_of(request), query.get("pinger-id"), query.get("ts"))
        return _json(result)

    @operation(
        "The instance's main info and host",
        responses={200: Monitor},
        camel_case=True,
        errors=ANSWERS,
        security=SERVICE,
    )
    async def monitor(request: web.Request) -> web.Response:
        return _json(await service.monitor(caller_of(request)), camel_case=True)

    @operation(
        "Whether the databases answer (500 naming the one that does not)",
        responses={200: Result},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def connect_to_db(request: web.Request) -> web.Response:
        return _json(await service.connect_to_db(caller_of(request)))

    @operation(
        "The hub's background jobs: runs in the last minute and failures",
        responses={200: TIMER_STATS},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def timer_stats(request: web.Request) -> web.Response:
        return _json(_timer_stats(await service.timer_stats(caller_of(request))))

    @operation(
        "The TOTAL row, then one row per account",
        responses={200: ACCOUNTS_STAT},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def accounts_stat(request: web.Request) -> web.Response:
        return _json(_accounts_stat(await service.accounts_stat(caller_of(request))))

    @operation(
        "The six aggregate counters",
        responses={200: ZabbixTornado},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def zabbix_tornado(request: web.Request) -> web.Response:
        return _json(await service.zabbix_tornado(caller_of(request)))

    @operation(
        "Channels with errors, each with its error count",
        responses={200: CHANNELS},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def zabbix_channels(request: web.Request) -> web.Response:
        return _json(_channels(await service.channels(caller_of(request))))

    @operation(
        "Object class → count held by one collector of one account, at most num classes",
        params=[
            Param("mode", {"enum": ["stats"]}, required=True),
            Param("account_name", {"type": "string", "minLength": 1}, required=True),
            Param("collector_name", {"enum": list(COLLECTORS)}, required=True),
            Param("num", {"type": "integer", "minimum": 1, "maximum": MAX_NUM}, required=True),
        ],
        responses={200: COUNTS},
        errors=(400, 404, *ANSWERS),
        security=SERVICE,
    )
    async def collected(request: web.Request) -> web.Response:
        query = request.query
        objects = await service.collected_to_store_objects(
            caller_of(request),
            query.get("mode"),
            query.get("account_name"),
            query.get("collector_name"),
            query.get("num"),
        )
        return _json(_objects(objects))

    @operation(
        "The hub process's live objects by type, the 50 most common",
        responses={200: COUNTS},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def object_stats(request: web.Request) -> web.Response:
        return _json(_objects(await service.object_stats(caller_of(request))))

    @operation(
        "32 hex digits, new at every start",
        responses={200: {"type": "string", "pattern": "^[0-9a-f]{32}$"}},
        response_type="text/plain",
        errors=ANSWERS,
        security=SERVICE,
    )
    async def instance_id(request: web.Request) -> web.Response:
        instance_id = await service.instance_id(caller_of(request))
        return web.Response(text=instance_id, content_type="text/plain")

    @operation(
        "Whether an account is blocked (account: the parameter, the Host name's first label,"
        " or the default)",
        params=[
            Param("action", {"enum": ["get_state"]}),
            Param("account", description="else the Host name's first label, else the default"),
        ],
        responses={200: AccountState},
        errors=(400, 404, *ANSWERS),
        security=SERVICE,
    )
    async def account_state(request: web.Request) -> web.Response:
        query = request.query
        state = await service.account_state(
            caller_of(request), query.get("action"), query.get("account"), request.host
        )
        return _json(state)

    @operation(
        "The ports this hub listens on, as strings",
        responses={200: list[str]},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def tornado_ports(request: web.Request) -> web.Response:
        return _json(await service.tornado_ports(caller_of(request)))

    @operation(
        "Every environment: host, env and ip",
        responses={200: list[Environment]},
        errors=ANSWERS,
        security=SERVICE,
    )
    async def env_list(request: web.Request) -> web.Response:
        return _json(await service.environments(caller_of(request)))

    @operation(
        "The instance's 12 keys as PHP var_dump text",
        responses={200: {"type": "string"}},
        response_type="text/html",
        errors=ANSWERS,
        security=SERVICE,
    )
    async def info(request: web.Request) -> web.Response:
        values = await service.info(caller_of(request), request.host, request.scheme)
        return web.Response(
            text=var_dump(values.php_array()), content_type="text/html", charset="UTF-8"
        )

    @operation(
        "Set a logger's level at once (FATAL is CRITICAL)",
        params=[
            Param(
                "name",
                {"type": "string", "minLength": 1},
                required=True,
                description="a plugin (its every logger), auth (hub.auth), or a hub logger",
            ),
            Param("level", {"enum": list(LEVELS)}, required=True),
            Param("current_node_only", bool),
        ],
        responses={200: LogLevelChange},
        errors=(400, *ANSWERS),
        security=SERVICE,
    )
    async def set_log_level(request: web.Request) -> web.Response:
        caller = caller_of(request)
        require_service(caller)  # a 401 before a bad current_node_only is a 400
        query = request.query
        current = bool_param(query, "current_node_only") if "current_node_only" in query else None
        change = await service.set_log_level(caller, query.get("name"), query.get("level"), current)
        return _json(change)

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


def rest_api(hub: HubApi) -> RestApi:
    return RestApi(
        routes=routes(hub),
        render_error=render_error,
        presented_in=PRESENTED_IN,
        auth_schemes=("basic",),
    )

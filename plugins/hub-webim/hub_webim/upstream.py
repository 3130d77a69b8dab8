"""``mode = "upstream"``: Webim's monitoring endpoints read from a real Webim deployment through
the host's upstream machinery, one budget category per endpoint (Webim documents no limit, so
the default is a polite ``1/5s``). The vendor's answers are read into the same records local
mode builds, so every protocol renders them as it always does. An instance-id that changes
upstream is a restart of the vendor's chat backend, published to subscribers; set-log-level is
a write, forwarded and never cached."""

from __future__ import annotations

import base64
import re
import types
import typing
from collections.abc import Callable, Iterable, Mapping
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, TypeVar

import orjson
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families

from hub.api import HubApi
from hub.caller import Caller
from hub.errors import HubError
from hub.events import EventBus
from hub.paging import Page, offset_cursor
from hub.records import camel
from hub.upstream import (
    Change,
    Reading,
    Reply,
    Target,
    Upstream,
    Vendor,
    VendorAuth,
    json_only,
    refusal_reason,
)
from hub_webim.accounts import AccountPage
from hub_webim.errors import PLUGIN, bad_request, error
from hub_webim.phpdump import parse_var_dump
from hub_webim.records import (
    RESTART_TOPIC,
    Account,
    AccountsStat,
    AccountState,
    AccountsTotal,
    ChannelErrors,
    Environment,
    Info,
    InstanceRestart,
    LogLevelChange,
    MainInfo,
    Monitor,
    ObjectCount,
    Result,
    TimerFailure,
    TimerLastMin,
    TimerStats,
    ZabbixTornado,
)
from hub_webim.settings import WebimSettings

# the seed's paths, after the vendor's base URL (a Webim host's root)
METRICS = "/metrics"
PING = "/l/o/pingservice"
MONITOR = "/l/a/monitor"
CONNECT_TO_DB = "/l/a/monitor/connect-to-db"
TIMER_STATS = "/l/a/monitor/timer-stats"
ACCOUNTS_STAT = "/l/a/monitor/accounts-stat"
ZABBIX_TORNADO = "/l/a/monitor/zabbix/tornado"
ZABBIX_CHANNELS = "/l/a/monitor/zabbix/channels"
COLLECTED = "/l/a/monitor/collected-to-store-objects"
SET_LOG_LEVEL = "/l/a/monitor/set-log-level"
OBJECT_STATS = "/l/a/object-stats"
INSTANCE_ID = "/l/i/instance-id"
ACCOUNT_STATE = "/l/i/account-state"
TORNADO_PORTS = "/webim/service/monitor/get-tornado-ports.php"
ENV_LIST = "/webim/service/monitor/get-all-env-list.php"
INFO = "/webim/service/info.php"

# pingservice asks for the vendor's health, whoever pings the hub: one key, one cached answer
PING_QUERY = (("pinger-id", "0"), ("ts", "0"))
INSTANCE_ID_TEXT = re.compile(r"[0-9A-Za-z_.-]{1,128}")

R = TypeVar("R")


class UpstreamWebim:
    """The endpoints as the vendor answers them; each method returns what the local one does."""

    def __init__(self, hub: HubApi, settings: WebimSettings) -> None:
        self.events: EventBus = hub.events
        upstream = settings.upstream
        self.origin = upstream.url.rstrip("/")  # the `upstream` label of the vendor's metrics
        basic = base64.b64encode(f"{upstream.login}:{upstream.password}".encode()).decode()
        cookies = {"WEBIM_AUTH_TOKEN": upstream.auth_token} if upstream.auth_token else {}
        vendor = Vendor(
            settings=upstream,
            auth=VendorAuth(headers={"Authorization": f"Basic {basic}"}, cookies=cookies),
            on_change=self._changed,
            watched=self._watched,
            answers=_health_answer,
            unreadable=_unreadable,
        )
        self.upstream: Upstream = hub.upstream(PLUGIN, vendor)

    async def _read(
        self,
        caller: Caller,
        path: str,
        build: Callable[[Any], R],
        query: Iterable[tuple[str, str]] = (),
        *,
        text: bool = False,
    ) -> R:
        """``build`` applied to the vendor's answer (JSON, or ``text``), once per content; a
        refusal comes back with the vendor's status."""
        reading = await self.upstream.read(caller, path, query)
        if not reading.ok:
            raise _refused(reading.status, reading.body)
        return self.upstream.decoded(reading, _decode, build, text)

    # -- reads ----------------------------------------------------------------------------
    async def monitor(self, caller: Caller) -> Monitor:
        return await self._read(caller, MONITOR, _monitor)

    async def connect_to_db(self, caller: Caller) -> Result:
        return await self._read(caller, CONNECT_TO_DB, _result)

    async def ping(self, caller: Caller) -> Result:
        return await self._read(caller, PING, _result, PING_QUERY)

    async def timer_stats(self, caller: Caller) -> TimerStats:
        return await self._read(caller, TIMER_STATS, _timer_stats)

    async def accounts_stat(self, caller: Caller) -> AccountsStat:
        return await self._read(caller, ACCOUNTS_STAT, _accounts_stat)

    async def accounts(self, caller: Caller, page: Page) -> AccountPage:
        """A page of accounts-stat's rows, in the vendor's order, with offset cursors."""
        if page.after is not None:
            raise bad_request("after: a cursor from a list in another order")
        every = (await self.accounts_stat(caller)).accounts
        shown = list(every[page.offset : page.offset + page.limit])
        cursors = [offset_cursor(page.offset + i) for i in range(len(shown))]
        return AccountPage(shown, len(every), cursors, page.offset + len(shown) < len(every))

    async def zabbix_tornado(self, caller: Caller) -> ZabbixTornado:
        return await self._read(caller, ZABBIX_TORNADO, _zabbix_tornado)

    async def channels(self, caller: Caller) -> list[ChannelErrors]:
        return await self._read(caller, ZABBIX_CHANNELS, _channels)

    async def collected_to_store_objects(
        self, caller: Caller, query: Iterable[tuple[str, str | None]]
    ) -> list[ObjectCount]:
        """The parameters are the vendor's to check: its 400 comes back as it is."""
        sent = [(key, value) for key, value in query if value is not None]
        return await self._read(caller, COLLECTED, _object_counts, sent)

    async def object_stats(self, caller: Caller) -> list[ObjectCount]:
        return await self._read(caller, OBJECT_STATS, _object_counts)

    async def instance_id(self, caller: Caller) -> str:
        return await self._read(caller, INSTANCE_ID, _instance_id, text=True)

    async def account_state(self, caller: Caller, account: str | None) -> AccountState:
        query = [("action", "get_state"), *([("account", account)] if account else [])]
        return await self._read(caller, ACCOUNT_STATE, _account_state, query)

    async def tornado_ports(self, caller: Caller) -> list[str]:
        return await self._read(caller, TORNADO_PORTS, _strings)

    async def environments(self, caller: Caller) -> list[Environment]:
        return await self._read(caller, ENV_LIST, _environments)

    async def info(self, caller: Caller) -> Info:
        """info.php as the vendor prints it for its own host name."""
        return await self._read(caller, INFO, _info, text=True)

    async def metrics(self, caller: Caller) -> list[Metric]:
        """The vendor's Prometheus families, each sample labelled ``upstream`` (its base URL)
        unless it already has that label."""
        return await self._read(caller, METRICS, self._families, text=True)

    def _families(self, text: str) -> list[Metric]:
        families = list(text_string_to_metric_families(text))
        for family in families:
            family.samples = [
                s
                if "upstream" in s.labels
                else s._replace(labels={**s.labels, "upstream": self.origin})
                for s in family.samples
            ]
        return families

    # -- the one write --------------------------------------------------------------------
    async def set_log_level(
        self, caller: Caller, name: str | None, level: str | None, current: bool | None
    ) -> LogLevelChange:
        """Forwarded as it came (the vendor checks it), never cached. A vendor whose answer is
        not the hub's own JSON has still set ``name`` to ``level``: the change is told as such."""
        query = [(k, v) for k, v in (("name", name), ("level", level)) if v is not None]
        if current is not None:
            query.append(("current_node_only", "true" if current else "false"))
        reply: Reply = await self.upstream.forward(caller, "GET", SET_LOG_LEVEL, query)
        if not 200 <= reply.status < 300:
            raise _refused(reply.status, reply.body)
        try:
            return _record(LogLevelChange, orjson.loads(reply.body))
        except (orjson.JSONDecodeError, KeyError, TypeError):
            names = (name or "",)
            return LogLevelChange("ok", names[0], names[0], names, (level or "").upper())

    # -- restarts -------------------------------------------------------------------------
    def _watched(self) -> list[Target]:
        """instance-id is polled while someone subscribes to restarts."""
        return [Target.of(INSTANCE_ID)] if self.events.subscribers(RESTART_TOPIC) else []

    def _changed(self, change: Change) -> None:
        """A new instance-id is a restart; the first one ever seen is the baseline."""
        if change.target.path != INSTANCE_ID or change.before is None:
            return
        before = change.before.decode("utf-8", "replace").strip()
        after = change.after.decode("utf-8", "replace").strip()
        if before != after:
            seen_at = datetime.fromtimestamp(change.fetched_at, UTC)
            self.events.publish(RESTART_TOPIC, InstanceRestart(after, before, seen_at))


# -- errors ------------------------------------------------------------------------------------
def _refused(status: int, body: bytes) -> HubError:
    """The vendor's own refusal, with its status, its message (Webim's ``e``) and a reason
    saying it was the upstream that refused."""
    message = f"the fronted Webim refused the hub's request ({status})"
    try:
        document = orjson.loads(body)
    except orjson.JSONDecodeError:
        document = None
    if isinstance(document, dict) and isinstance(document.get("e"), str):
        message += f": {document['e']}"
    return error(status, message, refusal_reason(status))


TEXT_PATHS = (INSTANCE_ID, INFO, METRICS)  # answered as text; every other path is JSON


def _unreadable(target: Target, reply: Reply) -> str | None:
    """An answer the hub cannot read: Webim's JSON endpoints answer JSON only (an HTML page
    is a proxy's), its text ones are read as text."""
    return None if target.path in TEXT_PATHS else json_only(target, reply)


def _health_answer(target: Target, status: int) -> bool:
    """connect-to-db's 500 and pingservice's 503 are what a Zabbix check asks for (the chat
    backend is unhealthy), to be passed on at once, not a vendor failure to serve stale over."""
    return target.path in (CONNECT_TO_DB, PING)


def _decode(reading: Reading, build: Callable[[Any], R], text: bool) -> R:
    """An answer ``build`` cannot read is the table's 502, naming what was wrong."""
    if text:
        try:
            document: Any = reading.body.decode("utf-8")
        except UnicodeDecodeError:
            raise reading.bad_answer("not UTF-8 text") from None
    else:
        document = reading.json()
    try:
        return build(document)
    except KeyError as exc:
        raise reading.bad_answer(f"no {exc.args[0]!r}") from None
    except (TypeError, ValueError, AttributeError) as exc:
        raise reading.bad_answer(str(exc)) from None


# -- reading JSON into records -----------------------------------------------------------------
def _record(cls: type[R], data: Any, *, camel_case: bool = False, **given: Any) -> R:
    """``cls`` from a JSON object holding each field (camelCased if ``camel_case``), each of
    the field's type; ``given`` fields are not read."""
    data = _mapping(data, cls.__name__)
    values, hints = dict(given), typing.get_type_hints(cls)
    for f in fields(cls):  # type: ignore[arg-type]
        if f.name not in values:
            key = camel(f.name) if camel_case else f.name
            values[f.name] = _value(hints[f.name], data[key], key)
    return cls(**values)


def _value(kind: Any, value: Any, key: str) -> Any:
    origin = typing.get_origin(kind)
    if origin in (types.UnionType, typing.Union):  # X | None
        if value is None:
            return None
        (kind,) = [arg for arg in typing.get_args(kind) if arg is not type(None)]
        return _value(kind, value, key)
    if origin is tuple:
        if not isinstance(value, list):
            raise TypeError(f"{key}: expected a list")
        inner = typing.get_args(kind)[0]
        return tuple(_value(inner, item, f"{key}[{i}]") for i, item in enumerate(value))
    if kind is bool and isinstance(value, bool):
        return value
    if kind is float and isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if kind is int and isinstance(value, int) and not isinstance(value, bool):
        return value
    if kind is str and isinstance(value, str):
        return value
    raise TypeError(f"{key}: expected {getattr(kind, '__name__', kind)}, got {value!r:.40}")


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise TypeError(f"{key}: expected an object")
    return value


def _rows(cls: type[R], value: Any) -> list[R]:
    if not isinstance(value, list):
        raise TypeError("expected a list")
    return [_record(cls, row) for row in value]


def _strings(value: Any) -> list[str]:
    return list(_value(tuple[str, ...], value, "ports"))


def _result(document: Any) -> Result:
    return _record(Result, document)


def _zabbix_tornado(document: Any) -> ZabbixTornado:
    return _record(ZabbixTornado, document)


def _account_state(document: Any) -> AccountState:
    return _record(AccountState, document)


def _environments(document: Any) -> list[Environment]:
    return _rows(Environment, document)


def _monitor(document: Any) -> Monitor:
    main = _record(MainInfo, _mapping(document, "monitor")["mainInfo"], camel_case=True)
    return Monitor(main_info=main, host=_value(str, document["host"], "host"))


def _timer_stats(document: Any) -> TimerStats:
    last_min = _mapping(_mapping(document, "timer-stats")["last_min"], "last_min")
    return TimerStats(
        last_min=tuple(_record(TimerLastMin, row, timer=timer) for timer, row in last_min.items()),
        failed=tuple(_rows(TimerFailure, document["failed"])),
    )


def _accounts_stat(document: Any) -> AccountsStat:
    """TOTAL, then one row per account; accounts-stat does not say which are blocked."""
    if not isinstance(document, list) or not document:
        raise TypeError("expected a list of rows, TOTAL first")
    total, *rows = document
    if _mapping(total, "TOTAL").get("name") != "TOTAL":
        raise ValueError("the first row is not TOTAL")
    return AccountsStat(
        total=_record(AccountsTotal, total),
        accounts=tuple(_record(Account, row, blocked=None) for row in rows),
    )


def _channels(document: Any) -> list[ChannelErrors]:
    channels = _mapping(_mapping(document, "zabbix/channels")["channels"], "channels")
    return [
        ChannelErrors(name, _value(int, _mapping(row, name)["error_cnt"], f"{name}.error_cnt"))
        for name, row in channels.items()
    ]


def _object_counts(document: Any) -> list[ObjectCount]:
    return [ObjectCount(k, _value(int, v, k)) for k, v in _mapping(document, "answer").items()]


def _instance_id(text: str) -> str:
    value = text.strip()
    if not INSTANCE_ID_TEXT.fullmatch(value):
        raise ValueError(f"not an instance id: {value[:40]!r}")
    return value


def _info(text: str) -> Info:
    """info.php's keys (spaces for underscores); keys this hub does not know are left out."""
    array = parse_var_dump(text.encode("utf-8"))
    return Info(**{f.name: array[f.name.replace("_", " ")] for f in fields(Info)})


# -- PHP's var_dump, read back -------------------------------------------------------------------

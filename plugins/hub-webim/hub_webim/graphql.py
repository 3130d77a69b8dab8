"""Webim in the hub's GraphQL schema: ``{ webim { ... } }`` and the ``webim*`` mutations.
Field values are the REST ones; names are camelCase."""

from __future__ import annotations

import re
from typing import Any

import strawberry

from hub.graphql.types import JSON, Connection, connection, page_window
from hub.records import sent_fields
from hub_webim.service import WebimService, bad_request


@strawberry.interface(name="WebimCounters", description="The counters of accounts-stat.")
class Counters:
    sessions_cnt: int
    visible_sessions_cnt: int
    alive_sessions_cnt: int
    pages_cnt: int
    alive_pages_cnt: int
    online_operators_cnt: int
    working_operators_cnt: int
    chats_cnt: int
    offline_chats_cnt: int
    in_queue_cnt: int
    failed_to_store_objects_cnt: int
    collected_to_store_objects_cnt: int
    being_stored_now_objects_cnt: int
    being_stored_now_processed_objects_cnt: int
    failed_to_store_objects_cnt_1: int
    collected_to_store_objects_cnt_1: int
    being_stored_now_objects_cnt_1: int
    being_stored_now_processed_objects_cnt_1: int


@strawberry.type(name="WebimAccountStat")
class AccountStat(Counters):
    name: str
    domain: str
    not_belongs_to_tornado_instance: bool
    ignore_not_belongs_to_tornado_instance: bool
    blocked: bool

    @classmethod
    def of(cls, row: dict[str, Any]) -> AccountStat:
        return cls(**row)


@strawberry.type(name="WebimAccountsTotal")
class AccountsTotal(Counters):
    name: str
    not_belongs_to_tornado_instance: int

    @classmethod
    def of(cls, row: dict[str, Any]) -> AccountsTotal:
        return cls(**row)


@strawberry.type(name="WebimMainInfo")
class MainInfo:
    env: str
    port: int
    multinode_mode: str
    node_name: str
    start_ts: float
    start_time: str
    version: str
    os_name: str
    os_version: str
    ubuntu_version: str
    branch: str
    revision: str
    tag: str
    avg_n_tries: float
    n: int
    storing_enabled: bool


@strawberry.type(name="WebimMonitor")
class Monitor:
    main_info: MainInfo
    host: str


@strawberry.type(name="WebimTimerLastMin")
class TimerLastMin:
    timer: str = strawberry.field(description='"timer: <plugin>.<job>", the REST key.')
    count: int
    execution_times: list[float]
    func_name: str


@strawberry.type(name="WebimTimerFailure")
class TimerFailure:
    timer_name: str
    func_name: str
    execution_time: float
    ts: float


@strawberry.type(name="WebimTimerStats")
class TimerStats:
    last_min: list[TimerLastMin]
    failed: list[TimerFailure]


@strawberry.type(name="WebimZabbixTornado")
class ZabbixTornado:
    sessions_cnt: int
    working_operators_cnt: int
    chats_cnt: int
    accounts_cnt: int
    failed_to_store_objects_cnt: int
    collected_to_store_objects_cnt: int


@strawberry.type(name="WebimChannelErrors")
class ChannelErrors:
    channel: str
    error_cnt: int


@strawberry.type(name="WebimObjectCount")
class ObjectCount:
    class_name: str
    count: int


@strawberry.type(name="WebimEnvironment")
class Environment:
    host: str
    env: str
    ip: str


@strawberry.type(name="WebimAccountState")
class AccountState:
    blocked: bool


@strawberry.type(name="WebimResult")
class Result:
    result: str


@strawberry.type(name="WebimInfo", description="info.php's 12 keys; null is PHP's NULL.")
class Info:
    tornado_port: str | None
    agent_backend_port: str | None
    account_name: str | None
    script_location: str | None
    tornado_location: str | None
    server: str | None
    branch: str | None
    revision: str | None
    version: str | None
    https: str | None
    uptime: str | None
    connections: str | None


@strawberry.type(name="WebimLogLevel")
class LogLevel:
    name: str
    logger: str
    level: str
    effective_level: str


@strawberry.type(name="WebimLongPolling")
class LongPolling:
    avg_n_tries: float
    n: int


@strawberry.input(name="WebimAccountInput", description="Fields left out keep their value.")
class AccountInput:
    name: str
    domain: str | None = strawberry.UNSET
    blocked: bool | None = strawberry.UNSET
    not_belongs_to_tornado_instance: bool | None = strawberry.UNSET
    ignore_not_belongs_to_tornado_instance: bool | None = strawberry.UNSET


@strawberry.input(name="WebimCountersInput", description="Only the counters sent are set.")
class CountersInput:
    sessions_cnt: int | None = strawberry.UNSET
    visible_sessions_cnt: int | None = strawberry.UNSET
    alive_sessions_cnt: int | None = strawberry.UNSET
    pages_cnt: int | None = strawberry.UNSET
    alive_pages_cnt: int | None = strawberry.UNSET
    online_operators_cnt: int | None = strawberry.UNSET
    working_operators_cnt: int | None = strawberry.UNSET
    chats_cnt: int | None = strawberry.UNSET
    offline_chats_cnt: int | None = strawberry.UNSET
    in_queue_cnt: int | None = strawberry.UNSET


@strawberry.input(name="WebimEnvironmentInput")
class EnvironmentInput:
    host: str
    env: str
    ip: str


def _service(info: strawberry.Info) -> WebimService:
    service: WebimService = info.context.hub.service(WebimService)
    service.authorize(info.context.authorization)
    return service


def _admin(info: strawberry.Info) -> WebimService:
    service: WebimService = info.context.hub.service(WebimService)
    service.authorize_admin(info.context.authorization)
    return service


def _objects(counts: dict[str, int]) -> list[ObjectCount]:
    return [ObjectCount(class_name=k, count=v) for k, v in counts.items()]


def _channels(channels: dict[str, dict[str, int]]) -> list[ChannelErrors]:
    return [ChannelErrors(channel=k, error_cnt=v["error_cnt"]) for k, v in channels.items()]


def _info(values: dict[str, str | None]) -> Info:
    return Info(**{k.replace(" ", "_"): v for k, v in values.items()})


def _bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" else None


def _snake(name: str) -> str:
    return re.sub(r"([A-Z])", r"_\1", name).lower()  # avgNTries -> avg_n_tries


def _monitor(data: dict[str, Any]) -> Monitor:
    main = MainInfo(**{_snake(k): v for k, v in data["mainInfo"].items()})
    return Monitor(main_info=main, host=data["host"])


@strawberry.type(name="WebimQuery")
class WebimQuery:
    @strawberry.field(description="/l/a/monitor")
    def monitor(self, info: strawberry.Info) -> Monitor:
        return _monitor(_service(info).monitor())

    @strawberry.field(description="/l/a/monitor/connect-to-db: an error (500) when it fails.")
    def connect_to_db(self, info: strawberry.Info) -> Result:
        return Result(**_service(info).connect_to_db())

    @strawberry.field(description="/l/o/pingservice; the operator token as Authorization: Bearer.")
    def ping(self, info: strawberry.Info, pinger_id: str, ts: str) -> Result:
        service: WebimService = info.context.hub.service(WebimService)
        service.authorize_operator(_bearer(info.context.authorization))
        return Result(**service.ping(pinger_id, ts))

    @strawberry.field(description="/l/a/monitor/timer-stats: every periodic job of the hub.")
    def timer_stats(self, info: strawberry.Info) -> TimerStats:
        stats = _service(info).timer_stats()
        return TimerStats(
            last_min=[TimerLastMin(timer=k, **v) for k, v in stats["last_min"].items()],
            failed=[TimerFailure(**f) for f in stats["failed"]],
        )

    @strawberry.field(description="The account rows of accounts-stat, in creation order.")
    def accounts(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[AccountStat]:
        page = page_window(first, after, bad_request)
        rows = _service(info).accounts()
        return connection(
            [AccountStat.of(r) for r in rows[page.offset : page.offset + page.limit]],
            len(rows),
            page,
        )

    @strawberry.field(description="The TOTAL row of accounts-stat.")
    def accounts_total(self, info: strawberry.Info) -> AccountsTotal:
        service = _service(info)
        return AccountsTotal.of(service.total(service.accounts()))

    @strawberry.field
    def account(self, info: strawberry.Info, name: str) -> AccountStat:
        return AccountStat.of(_service(info).account(name))

    @strawberry.field(description="/l/a/monitor/zabbix/tornado")
    def tornado(self, info: strawberry.Info) -> ZabbixTornado:
        return ZabbixTornado(**_service(info).zabbix_tornado())

    @strawberry.field(description="/l/a/monitor/zabbix/channels: channels with errors.")
    def channels(self, info: strawberry.Info) -> list[ChannelErrors]:
        return _channels(_service(info).channels())

    @strawberry.field(description="/l/a/monitor/collected-to-store-objects")
    def collected_to_store_objects(
        self,
        info: strawberry.Info,
        account_name: str,
        collector_name: str,
        num: int,
        mode: str = "stats",
    ) -> list[ObjectCount]:
        query = {
            "mode": mode,
            "account_name": account_name,
            "collector_name": collector_name,
            "num": str(num),
        }
        return _objects(_service(info).collected_to_store_objects(query))

    @strawberry.field(description="/l/a/object-stats: the hub process's 50 most common types.")
    async def object_stats(self, info: strawberry.Info) -> list[ObjectCount]:
        return _objects(await _service(info).object_stats())

    @strawberry.field(description="/l/i/instance-id: new at every start of the hub.")
    def instance_id(self, info: strawberry.Info) -> str:
        return _service(info).instance_id

    @strawberry.field(description="/l/i/account-state; `host` stands for the Host header.")
    def account_state(
        self,
        info: strawberry.Info,
        account: str | None = None,
        host: str | None = None,
        action: str = "get_state",
    ) -> AccountState:
        return AccountState(**_service(info).account_state(action, account, host))

    @strawberry.field(description="get-tornado-ports.php: the ports this hub listens on.")
    def tornado_ports(self, info: strawberry.Info) -> list[str]:
        return _service(info).tornado_ports()

    @strawberry.field(description="get-all-env-list.php")
    def environments(self, info: strawberry.Info) -> list[Environment]:
        return [Environment(**e) for e in _service(info).environments()]

    @strawberry.field(description="info.php's values; `host` stands for the Host header.")
    def info(self, info: strawberry.Info, host: str | None = None) -> Info:
        return _info(_service(info).info(host))

    @strawberry.field(description="The level set on a component's logger and its effective one.")
    def log_level(self, info: strawberry.Info, name: str) -> LogLevel:
        return LogLevel(**_service(info).log_level(name))


@strawberry.type(name="WebimMutation")
class WebimMutation:
    @strawberry.mutation(description="/l/a/monitor/set-log-level (a service login).")
    def webim_set_log_level(
        self, info: strawberry.Info, name: str, level: str, current_node_only: bool | None = None
    ) -> LogLevel:
        service = _service(info)
        service.set_log_level(name, level, current_node_only)
        return LogLevel(**service.log_level(name))

    @strawberry.mutation(description="Create an account or change the fields sent (admin).")
    def webim_upsert_account(self, info: strawberry.Info, input: AccountInput) -> AccountStat:
        service = _admin(info)
        sent = sent_fields(input)
        if "domain" in sent and sent["domain"] is None:  # the column is never null
            raise bad_request("domain: expected a string; leave it out to keep the current one")
        return AccountStat.of(service.upsert_account(sent))

    @strawberry.mutation(description="Returns the name of the deleted account (admin).")
    def webim_delete_account(self, info: strawberry.Info, name: str) -> str:
        _admin(info).delete_account(name)
        return name

    @strawberry.mutation(description="Set an account's counters (admin).")
    def webim_set_account_counters(
        self, info: strawberry.Info, name: str, counters: CountersInput
    ) -> AccountStat:
        return AccountStat.of(_admin(info).set_counters(name, sent_fields(counters)))

    @strawberry.mutation(description="Replace a collector's objects: class name -> count (admin).")
    def webim_set_store_objects(
        self, info: strawberry.Info, account: str, collector: str, objects: JSON
    ) -> list[ObjectCount]:
        return _objects(_admin(info).set_store_objects(account, collector, objects))

    @strawberry.mutation(description="Set a channel's error count; 0 clears it (admin).")
    def webim_set_channel_errors(
        self, info: strawberry.Info, channel: str, error_cnt: int
    ) -> list[ChannelErrors]:
        return _channels(_admin(info).set_channel_errors(channel, error_cnt))

    @strawberry.mutation(description="Add an environment or change its IP (admin).")
    def webim_upsert_environment(
        self, info: strawberry.Info, input: EnvironmentInput
    ) -> Environment:
        return Environment(**_admin(info).upsert_environment(sent_fields(input)))

    @strawberry.mutation(description="Returns true once deleted (admin).")
    def webim_delete_environment(self, info: strawberry.Info, host: str, env: str) -> bool:
        _admin(info).delete_environment(host, env)
        return True

    @strawberry.mutation(description="One long-polling update cycle with its tries (admin).")
    def webim_record_long_polling(self, info: strawberry.Info, tries: float) -> LongPolling:
        result = _admin(info).record_long_polling(tries)
        return LongPolling(avg_n_tries=result["avgNTries"], n=result["n"])

"""Webim in the hub's GraphQL schema: ``{ webim { ... } }``, the ``webim*`` mutations and
``webimInstanceRestarted``. Field values are the REST ones; names are camelCase."""

from __future__ import annotations

from collections.abc import AsyncIterator

import strawberry

from hub.graphql.context import plugin_resolvers
from hub.graphql.stored import stored_objects
from hub.graphql.types import JSON, Connection, connection, page_window
from hub.records import sent_fields, to_graphql
from hub_webim.errors import PLUGIN, bad_request
from hub_webim.records import ChannelErrors as ChannelErrorsRecord
from hub_webim.records import ObjectCount as ObjectCountRecord
from hub_webim.service import WebimService


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
    blocked: bool | None = strawberry.field(
        description="null in upstream mode: accounts-stat does not say; ask accountState."
    )


@strawberry.type(name="WebimAccountsTotal")
class AccountsTotal(Counters):
    name: str
    not_belongs_to_tornado_instance: int


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


_service, _caller = plugin_resolvers(PLUGIN, WebimService)


def _objects(objects: list[ObjectCountRecord]) -> list[ObjectCount]:
    return [to_graphql(ObjectCount, o) for o in objects]


def _channels(channels: list[ChannelErrorsRecord]) -> list[ChannelErrors]:
    return [to_graphql(ChannelErrors, c) for c in channels]


@strawberry.type(name="WebimQuery")
class WebimQuery:
    @strawberry.field(description="/l/a/monitor")
    async def monitor(self, info: strawberry.Info) -> Monitor:
        return to_graphql(Monitor, await _service(info).monitor(_caller(info)))

    @strawberry.field(description="/l/a/monitor/connect-to-db: an error (500) when it fails.")
    async def connect_to_db(self, info: strawberry.Info) -> Result:
        return to_graphql(Result, await _service(info).connect_to_db(_caller(info)))

    @strawberry.field(description="/l/o/pingservice; the operator token as Authorization: Bearer.")
    async def ping(self, info: strawberry.Info, pinger_id: str, ts: str) -> Result:
        return to_graphql(Result, await _service(info).ping(_caller(info), pinger_id, ts))

    @strawberry.field(description="/l/a/monitor/timer-stats: every periodic job of the hub.")
    async def timer_stats(self, info: strawberry.Info) -> TimerStats:
        return to_graphql(TimerStats, await _service(info).timer_stats(_caller(info)))

    @strawberry.field(
        description="The account rows of accounts-stat, in creation order (upstream mode: the"
        " vendor's order)."
    )
    async def accounts(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[AccountStat]:
        page = page_window(first, after, bad_request, seekable=True)
        got = await _service(info).accounts(_caller(info), page)
        # each account's row is its whole record (its counters included): rendered once
        nodes = stored_objects(AccountStat, got.accounts, ids=[a.name for a in got.accounts])
        return connection(nodes, got.total, page, got.cursors, got.has_next)

    @strawberry.field(description="The TOTAL row of accounts-stat.")
    async def accounts_total(self, info: strawberry.Info) -> AccountsTotal:
        stat = await _service(info).accounts_stat(_caller(info))
        return to_graphql(AccountsTotal, stat.total)

    @strawberry.field
    async def account(self, info: strawberry.Info, name: str) -> AccountStat:
        return to_graphql(AccountStat, await _service(info).account(_caller(info), name))

    @strawberry.field(description="/l/a/monitor/zabbix/tornado")
    async def tornado(self, info: strawberry.Info) -> ZabbixTornado:
        return to_graphql(ZabbixTornado, await _service(info).zabbix_tornado(_caller(info)))

    @strawberry.field(description="/l/a/monitor/zabbix/channels: channels with errors.")
    async def channels(self, info: strawberry.Info) -> list[ChannelErrors]:
        return _channels(await _service(info).channels(_caller(info)))

    @strawberry.field(description="/l/a/monitor/collected-to-store-objects")
    async def collected_to_store_objects(
        self,
        info: strawberry.Info,
        account_name: str,
        collector_name: str,
        num: int,
        mode: str = "stats",
    ) -> list[ObjectCount]:
        objects = await _service(info).collected_to_store_objects(
            _caller(info), mode, account_name, collector_name, str(num)
        )
        return _objects(objects)

    @strawberry.field(description="/l/a/object-stats: the hub process's 50 most common types.")
    async def object_stats(self, info: strawberry.Info) -> list[ObjectCount]:
        return _objects(await _service(info).object_stats(_caller(info)))

    @strawberry.field(
        description="/l/i/instance-id: new at every start of the hub (upstream mode: of the"
        " fronted Webim; see webimInstanceRestarted)."
    )
    async def instance_id(self, info: strawberry.Info) -> str:
        return await _service(info).instance_id(_caller(info))

    @strawberry.field(description="/l/i/account-state; `host` stands for the Host header.")
    async def account_state(
        self,
        info: strawberry.Info,
        account: str | None = None,
        host: str | None = None,
        action: str = "get_state",
    ) -> AccountState:
        state = await _service(info).account_state(_caller(info), action, account, host)
        return to_graphql(AccountState, state)

    @strawberry.field(description="get-tornado-ports.php: the ports this hub listens on.")
    async def tornado_ports(self, info: strawberry.Info) -> list[str]:
        return await _service(info).tornado_ports(_caller(info))

    @strawberry.field(description="get-all-env-list.php")
    async def environments(self, info: strawberry.Info) -> list[Environment]:
        environments = await _service(info).environments(_caller(info))
        return [to_graphql(Environment, e) for e in environments]

    @strawberry.field(description="info.php's values; `host` stands for the Host header.")
    async def info(self, info: strawberry.Info, host: str | None = None) -> Info:
        return to_graphql(Info, await _service(info).info(_caller(info), host))

    @strawberry.field(description="The level set on a component's logger and its effective one.")
    def log_level(self, info: strawberry.Info, name: str) -> LogLevel:
        return to_graphql(LogLevel, _service(info).log_level(_caller(info), name))


@strawberry.type(name="WebimMutation")
class WebimMutation:
    @strawberry.mutation(description="/l/a/monitor/set-log-level (a service login).")
    async def webim_set_log_level(
        self, info: strawberry.Info, name: str, level: str, current_node_only: bool | None = None
    ) -> LogLevel:
        changed = await _service(info).set_log_level_and_read(
            _caller(info), name, level, current_node_only
        )
        return to_graphql(LogLevel, changed)

    @strawberry.mutation(description="Create an account or change the fields sent (admin).")
    def webim_upsert_account(self, info: strawberry.Info, input: AccountInput) -> AccountStat:
        account = _service(info).upsert_account(_caller(info), sent_fields(input))
        return to_graphql(AccountStat, account)

    @strawberry.mutation(description="Returns the name of the deleted account (admin).")
    def webim_delete_account(self, info: strawberry.Info, name: str) -> str:
        _service(info).delete_account(_caller(info), name)
        return name

    @strawberry.mutation(description="Set an account's counters (admin).")
    def webim_set_account_counters(
        self, info: strawberry.Info, name: str, counters: CountersInput
    ) -> AccountStat:
        account = _service(info).set_counters(_caller(info), name, sent_fields(counters))
        return to_graphql(AccountStat, account)

    @strawberry.mutation(description="Replace a collector's objects: class name -> count (admin).")
    def webim_set_store_objects(
        self, info: strawberry.Info, account: str, collector: str, objects: JSON
    ) -> list[ObjectCount]:
        stored = _service(info).set_store_objects(_caller(info), account, collector, objects)
        return _objects(stored)

    @strawberry.mutation(description="Set a channel's error count; 0 clears it (admin).")
    def webim_set_channel_errors(
        self, info: strawberry.Info, channel: str, error_cnt: int
    ) -> list[ChannelErrors]:
        return _channels(_service(info).set_channel_errors(_caller(info), channel, error_cnt))

    @strawberry.mutation(description="Add an environment or change its IP (admin).")
    def webim_upsert_environment(
        self, info: strawberry.Info, input: EnvironmentInput
    ) -> Environment:
        environment = _service(info).upsert_environment(_caller(info), sent_fields(input))
        return to_graphql(Environment, environment)

    @strawberry.mutation(description="Returns true once deleted (admin).")
    def webim_delete_environment(self, info: strawberry.Info, host: str, env: str) -> bool:
        _service(info).delete_environment(_caller(info), host, env)
        return True

    @strawberry.mutation(description="One long-polling update cycle with its tries (admin).")
    def webim_record_long_polling(self, info: strawberry.Info, tries: float) -> LongPolling:
        return to_graphql(LongPolling, _service(info).record_long_polling(_caller(info), tries))


@strawberry.type(name="WebimInstanceRestart")
class InstanceRestart:
    instance_id: str
    previous_instance_id: str
    seen_at: str = strawberry.field(description="When the hub first read the new instance-id.")


@strawberry.type(name="WebimSubscription")
class WebimSubscription:
    @strawberry.subscription(
        description="Each restart of the fronted Webim (upstream mode): its instance-id changed."
    )
    async def webim_instance_restarted(
        self, info: strawberry.Info
    ) -> AsyncIterator[InstanceRestart]:
        async for restart in _service(info).instance_restarts(_caller(info)):
            yield to_graphql(InstanceRestart, restart)

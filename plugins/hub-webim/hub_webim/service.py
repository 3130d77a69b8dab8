"""The one service layer of ``webim``: REST, GraphQL and gRPC all call this and nothing else.
Each operation takes the :class:`~hub.caller.Caller` first and checks it before anything else
(a 401 comes before a 400); the work lives in the topic modules.

Reads come from the running hub (its listeners, timers, loggers, live objects, the OS) and from
``webim.db``; writes are the admin's (accounts, counters, channels, environments) and the
storager's heartbeat. In upstream mode (``mode = "upstream"``) the reads come from the Webim
deployment the hub fronts (:mod:`hub_webim.upstream`), set-log-level is forwarded to it, and the
admin's writes of local state are refused: the hub's own credentials are checked either way."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

from hub.api import HubApi
from hub.caller import Caller, while_admitted
from hub.errors import HubError, quoted
from hub.paging import Page
from hub_webim import (
    accounts,
    auth,
    channels,
    database_checks,
    environments,
    inputs,
    log_levels,
    long_polling,
    monitor,
    system,
)
from hub_webim.errors import PLUGIN, account_not_found, bad_request, error
from hub_webim.records import (
    RESTART_TOPIC,
    Account,
    AccountsStat,
    AccountState,
    ChannelErrors,
    Environment,
    Info,
    InstanceRestart,
    LogLevel,
    LogLevelChange,
    LongPolling,
    Monitor,
    ObjectCount,
    Result,
    TimerStats,
    ZabbixTornado,
)
from hub_webim.settings import WebimSettings

LOCAL_STATE = "its accounts, counters, channels, environments and long polling are changed there"

if TYPE_CHECKING:
    from prometheus_client.core import Metric

    from hub_webim.upstream import UpstreamWebim


class WebimService:
    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.settings: WebimSettings = hub.settings_for(PLUGIN) or WebimSettings()
        self.database = hub.database(PLUGIN)
        self.instance = monitor.Instance.starting(hub, self.settings)
        self.log_levels = log_levels.LevelSync(hub)
        self.upstream: UpstreamWebim | None = None
        if self.settings.mode == "upstream":
            from hub_webim.upstream import UpstreamWebim

            self.upstream = UpstreamWebim(hub, self.settings)

    # -- the storager and the database check (no caller: the job, the probe, /metrics) -------
    def storager_run(self) -> None:
        """The periodic job: a failed write fails the run, so timer-stats lists it."""
        if not database_checks.storing_enabled(self.database):
            raise RuntimeError("webim.db refused a write")

    def check_database(self) -> None:
        """connect-to-db's check: a 500 naming where ``webim.db`` failed."""
        database_checks.connect_to_db(self.database)

    # -- monitor -------------------------------------------------------------------------------
    async def monitor(self, caller: Caller) -> Monitor:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.monitor(caller)
        main = monitor.main_info(
            self.hub,
            self.instance,
            long_polling.current(self.database),
            database_checks.storing_enabled(self.database),
        )
        return Monitor(main_info=main, host=self.instance.host)

    async def connect_to_db(self, caller: Caller) -> Result:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.connect_to_db(caller)
        self.check_database()
        return Result()

    async def ping(
        self, caller: Caller, pinger_id: str | None, ts: str | None, auth_token: str | None = None
    ) -> Result:
        """pingservice: an operator session, from the caller's ``WEBIM_AUTH_TOKEN`` cookie
        (GraphQL, gRPC: ``Authorization: Bearer``) unless a message carries ``auth_token``,
        which is looked up as sent. Upstream, the answer is the vendor's pingservice."""
        if auth_token:
            session = self.hub.credentials.by_token(PLUGIN, auth_token)
        else:
            session = caller.credential_in(auth.OPERATOR_SESSION)
            if session is None and caller.is_admin:  # the admin token works everywhere
                session = caller.credential
        auth.require_operator(session)
        inputs.ping(pinger_id, ts)
        if self.upstream is not None:
            return await self.upstream.ping(caller)
        try:
            self.check_database()
        except HubError:
            raise error(
                503, "chat backend unavailable: its database does not answer", "unavailable"
            ) from None
        return Result()

    async def timer_stats(self, caller: Caller) -> TimerStats:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.timer_stats(caller)
        return monitor.timer_stats(self.hub)

    async def instance_id(self, caller: Caller) -> str:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.instance_id(caller)
        return self.instance.instance_id

    async def tornado_ports(self, caller: Caller) -> list[str]:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.tornado_ports(caller)
        return monitor.tornado_ports(self.hub)

    async def info(self, caller: Caller, host: str | None, scheme: str = "http") -> Info:
        """info.php; ``host`` is the Host header (or its stand-in), which may name the
        account. Upstream, the vendor's answer for its own host name."""
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.info(caller)
        account = accounts.resolve(self.database, None, host, self.settings.default_account)
        return monitor.info_php(self.hub, self.instance, account, scheme)

    async def object_stats(self, caller: Caller) -> list[ObjectCount]:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.object_stats(caller)
        counts = await asyncio.to_thread(system.object_stats, 50)
        return [ObjectCount(class_name, count) for class_name, count in counts.items()]

    # -- accounts ----------------------------------------------------------------------------
    async def accounts_stat(self, caller: Caller) -> AccountsStat:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.accounts_stat(caller)
        return accounts.stat(self.database)

    async def accounts(self, caller: Caller, page: Page) -> accounts.AccountPage:
        """One page of the account rows of accounts-stat, in creation order (upstream: the
        vendor's order)."""
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.accounts(caller, page)
        return accounts.page(self.database, page)

    async def account(self, caller: Caller, name: str) -> Account:
        auth.require_service(caller)
        if self.upstream is not None:
            for account in (await self.upstream.accounts_stat(caller)).accounts:
                if account.name == name:
                    return account
            raise account_not_found("name", name)
        return accounts.one(self.database, name)

    async def zabbix_tornado(self, caller: Caller) -> ZabbixTornado:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.zabbix_tornado(caller)
        return accounts.tornado(accounts.every(self.database))

    async def collected_to_store_objects(
        self,
        caller: Caller,
        mode: str | None,
        account_name: str | None,
        collector_name: str | None,
        num: str | None,
    ) -> list[ObjectCount]:
        auth.require_service(caller)
        if self.upstream is not None:
            query = (
                ("mode", mode),
                ("account_name", account_name),
                ("collector_name", collector_name),
                ("num", num),
            )
            return await self.upstream.collected_to_store_objects(caller, query)
        return accounts.collected_to_store_objects(
            self.database, mode, account_name, collector_name, num
        )

    async def account_state(
        self, caller: Caller, action: str | None, account: str | None, host: str | None
    ) -> AccountState:
        """``action`` defaults to ``get_state``, the only one (on every protocol). Upstream,
        the vendor's answer for ``account``, else for its own host name."""
        auth.require_service(caller)
        if action and action != "get_state":
            raise bad_request(f"action: expected get_state, got {quoted(action)}")
        if self.upstream is not None:
            return await self.upstream.account_state(caller, account)
        name = accounts.resolve(self.database, account, host, self.settings.default_account)
        if name is None:
            raise bad_request(
                "account: required (no account in the Host name, no default_account,"
                " and not exactly one account)"
            )
        return AccountState(blocked=accounts.is_blocked(self.database, name))

    # -- channels, environments ---------------------------------------------------------------
    async def channels(self, caller: Caller) -> list[ChannelErrors]:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.channels(caller)
        return channels.with_errors(self.database)

    async def environments(self, caller: Caller) -> list[Environment]:
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.environments(caller)
        return environments.every(self.database)

    # -- metrics, restarts ---------------------------------------------------------------------
    async def upstream_metrics(self, caller: Caller) -> list[Metric]:
        """The vendor's families for ``/metrics`` (none in local mode: the hub's registry
        holds Webim's state)."""
        auth.require_service(caller)
        if self.upstream is None:
            return []
        return await self.upstream.metrics(caller)

    def instance_restarts(self, caller: Caller) -> AsyncIterator[InstanceRestart]:
        """Each restart of the fronted Webim (a new instance-id), seen while subscribed; in
        local mode the hub is the instance, and its restart ends the subscription itself."""
        auth.require_service(caller)
        restarts = self.hub.events.subscribe(RESTART_TOPIC)
        return while_admitted(caller, auth.require_service, restarts)

    # -- log levels ----------------------------------------------------------------------------
    async def set_log_level(
        self,
        caller: Caller,
        name: str | None,
        level: str | None,
        current_node_only: bool | None = None,
    ) -> LogLevelChange:
        """Here at once, then in the hub's other processes; ``current_node_only`` keeps it to
        this hub (upstream: it is forwarded with the rest)."""
        auth.require_service(caller)
        if self.upstream is not None:
            return await self.upstream.set_log_level(caller, name, level, current_node_only)
        change = log_levels.set_level(self.hub, name, level)
        self.log_levels.announce(change, current_node_only)
        return change

    async def set_log_level_and_read(
        self, caller: Caller, name: str, level: str, current_node_only: bool | None = None
    ) -> LogLevel:
        """GraphQL's and gRPC's set-log-level: the level now set. Upstream, where no endpoint
        reads a level back, the level the vendor accepted (set on that logger, so also its
        effective one)."""
        change = await self.set_log_level(caller, name, level, current_node_only)
        if self.upstream is not None:
            return LogLevel(change.name, change.logger, change.level, change.level)
        return log_levels.level_of(self.hub, name)

    def log_level(self, caller: Caller, name: str) -> LogLevel:
        auth.require_service(caller)
        self._local_only("no Webim endpoint reads a logger's level back")
        return log_levels.level_of(self.hub, name)

    # -- the admin's writes -------------------------------------------------------------------
    def upsert_account(self, caller: Caller, data: Any) -> Account:
        caller.require_admin()
        self._local_only()
        return accounts.upsert(self.database, data)

    def delete_account(self, caller: Caller, name: str) -> None:
        caller.require_admin()
        self._local_only()
        accounts.delete(self.database, name)

    def set_counters(self, caller: Caller, name: str, counters: Any) -> Account:
        caller.require_admin()
        self._local_only()
        return accounts.set_counters(self.database, name, counters)

    def set_store_objects(
        self, caller: Caller, account: str, collector: str, objects: Any
    ) -> list[ObjectCount]:
        caller.require_admin()
        self._local_only()
        return accounts.set_store_objects(self.database, account, collector, objects)

    def set_channel_errors(
        self, caller: Caller, channel: Any, error_cnt: Any
    ) -> list[ChannelErrors]:
        caller.require_admin()
        self._local_only()
        return channels.set_errors(self.database, channel, error_cnt)

    def upsert_environment(self, caller: Caller, data: Any) -> Environment:
        caller.require_admin()
        self._local_only()
        return environments.upsert(self.database, data)

    def delete_environment(self, caller: Caller, host: str, env: str) -> None:
        caller.require_admin()
        self._local_only()
        environments.delete(self.database, host, env)

    def record_long_polling(self, caller: Caller, tries: Any) -> LongPolling:
        caller.require_admin()
        self._local_only()
        return long_polling.record(self.database, tries)

    def _local_only(self, why: str = LOCAL_STATE) -> None:
        """In upstream mode Webim's state is the fronted deployment's."""
        if self.upstream is not None:
            message = f"webim fronts a Webim deployment (mode = upstream): {why}"
            raise error(409, message, "upstream_mode")

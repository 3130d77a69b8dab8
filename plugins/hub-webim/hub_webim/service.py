"""The one service layer of ``webim``: REST, GraphQL and gRPC all call this and nothing else.
Each operation takes the :class:`~hub.caller.Caller` first and checks it before anything else
(a 401 comes before a 400); the work lives in the topic modules.

Reads come from the running hub (its listeners, timers, loggers, live objects, the OS) and from
``webim.db``; writes are the admin's (accounts, counters, channels, environments) and the
storager's heartbeat."""

from __future__ import annotations

import asyncio
from typing import Any

from hub.api import HubApi
from hub.caller import Caller
from hub.errors import HubError
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
from hub_webim.errors import PLUGIN, bad_request, error
from hub_webim.records import (
    Account,
    AccountsStat,
    AccountState,
    ChannelErrors,
    Environment,
    Info,
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


class WebimService:
    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.settings: WebimSettings = hub.settings_for(PLUGIN) or WebimSettings()
        self.database = hub.database(PLUGIN)
        self.instance = monitor.Instance.starting(self.settings)

    # -- the storager and the database check (no caller: the job, the probe, /metrics) -------
    def storager_run(self) -> None:
        """The periodic job: a failed write fails the run, so timer-stats lists it."""
        if not database_checks.storing_enabled(self.database):
            raise RuntimeError("webim.db refused a write")

    def check_database(self) -> None:
        """connect-to-db's check: a 500 naming where ``webim.db`` failed."""
        database_checks.connect_to_db(self.database)

    # -- monitor -------------------------------------------------------------------------------
    def monitor(self, caller: Caller) -> Monitor:
        auth.require_service(caller)
        main = monitor.main_info(
            self.hub,
            self.instance,
            long_polling.current(self.database),
            database_checks.storing_enabled(self.database),
        )
        return Monitor(main_info=main, host=self.instance.host)

    def connect_to_db(self, caller: Caller) -> Result:
        auth.require_service(caller)
        self.check_database()
        return Result()

    def ping(
        self, caller: Caller, pinger_id: str | None, ts: str | None, auth_token: str | None = None
    ) -> Result:
        """pingservice: an operator session, from the caller's ``WEBIM_AUTH_TOKEN`` cookie
        (GraphQL, gRPC: ``Authorization: Bearer``) unless a message carries ``auth_token``,
        which is looked up as sent."""
        if auth_token:
            session = self.hub.credentials.by_token(PLUGIN, auth_token)
        else:
            session = caller.credential_in(auth.OPERATOR_SESSION)
            if session is None and caller.is_admin:  # the admin token works everywhere
                session = caller.credential
        auth.require_operator(session)
        inputs.ping(pinger_id, ts)
        try:
            self.check_database()
        except HubError:
            raise error(
                503, "chat backend unavailable: its database does not answer", "unavailable"
            ) from None
        return Result()

    def timer_stats(self, caller: Caller) -> TimerStats:
        auth.require_service(caller)
        return monitor.timer_stats(self.hub)

    def instance_id(self, caller: Caller) -> str:
        auth.require_service(caller)
        return self.instance.instance_id

    def tornado_ports(self, caller: Caller) -> list[str]:
        auth.require_service(caller)
        return monitor.tornado_ports(self.hub)

    def info(self, caller: Caller, host: str | None, scheme: str = "http") -> Info:
        """info.php; ``host`` is the Host header (or its stand-in), which may name the
        account."""
        auth.require_service(caller)
        account = accounts.resolve(self.database, None, host, self.settings.default_account)
        return monitor.info_php(self.hub, self.instance, account, scheme)

    async def object_stats(self, caller: Caller) -> list[ObjectCount]:
        auth.require_service(caller)
        counts = await asyncio.to_thread(system.object_stats, 50)
        return [ObjectCount(class_name, count) for class_name, count in counts.items()]

    # -- accounts ----------------------------------------------------------------------------
    def accounts_stat(self, caller: Caller) -> AccountsStat:
        auth.require_service(caller)
        return accounts.stat(self.database)

    def accounts(self, caller: Caller, page: Page) -> accounts.AccountPage:
        """One page of the account rows of accounts-stat, in creation order."""
        auth.require_service(caller)
        return accounts.page(self.database, page)

    def account(self, caller: Caller, name: str) -> Account:
        auth.require_service(caller)
        return accounts.one(self.database, name)

    def zabbix_tornado(self, caller: Caller) -> ZabbixTornado:
        auth.require_service(caller)
        return accounts.tornado(accounts.every(self.database))

    def collected_to_store_objects(
        self,
        caller: Caller,
        mode: str | None,
        account_name: str | None,
        collector_name: str | None,
        num: str | None,
    ) -> list[ObjectCount]:
        auth.require_service(caller)
        return accounts.collected_to_store_objects(
            self.database, mode, account_name, collector_name, num
        )

    def account_state(
        self, caller: Caller, action: str | None, account: str | None, host: str | None
    ) -> AccountState:
        """``action`` defaults to ``get_state``, the only one (on every protocol)."""
        auth.require_service(caller)
        if action and action != "get_state":
            raise bad_request(f"action: expected get_state, got {action!r}")
        name = accounts.resolve(self.database, account, host, self.settings.default_account)
        if name is None:
            raise bad_request(
                "account: required (no account in the Host name, no default_account,"
                " and not exactly one account)"
            )
        return AccountState(blocked=accounts.is_blocked(self.database, name))

    # -- channels, environments ---------------------------------------------------------------
    def channels(self, caller: Caller) -> list[ChannelErrors]:
        auth.require_service(caller)
        return channels.with_errors(self.database)

    def environments(self, caller: Caller) -> list[Environment]:
        auth.require_service(caller)
        return environments.every(self.database)

    # -- log levels ----------------------------------------------------------------------------
    def set_log_level(
        self,
        caller: Caller,
        name: str | None,
        level: str | None,
        current_node_only: bool | None = None,
    ) -> LogLevelChange:
        """One node: ``current_node_only`` is accepted and changes nothing."""
        auth.require_service(caller)
        return log_levels.set_level(self.hub, name, level)

    def log_level(self, caller: Caller, name: str) -> LogLevel:
        auth.require_service(caller)
        return log_levels.level_of(self.hub, name)

    # -- the admin's writes -------------------------------------------------------------------
    def upsert_account(self, caller: Caller, data: Any) -> Account:
        caller.require_admin()
        return accounts.upsert(self.database, data)

    def delete_account(self, caller: Caller, name: str) -> None:
        caller.require_admin()
        accounts.delete(self.database, name)

    def set_counters(self, caller: Caller, name: str, counters: Any) -> Account:
        caller.require_admin()
        return accounts.set_counters(self.database, name, counters)

    def set_store_objects(
        self, caller: Caller, account: str, collector: str, objects: Any
    ) -> list[ObjectCount]:
        caller.require_admin()
        return accounts.set_store_objects(self.database, account, collector, objects)

    def set_channel_errors(
        self, caller: Caller, channel: Any, error_cnt: Any
    ) -> list[ChannelErrors]:
        caller.require_admin()
        return channels.set_errors(self.database, channel, error_cnt)

    def upsert_environment(self, caller: Caller, data: Any) -> Environment:
        caller.require_admin()
        return environments.upsert(self.database, data)

    def delete_environment(self, caller: Caller, host: str, env: str) -> None:
        caller.require_admin()
        environments.delete(self.database, host, env)

    def record_long_polling(self, caller: Caller, tries: Any) -> LongPolling:
        caller.require_admin()
        return long_polling.record(self.database, tries)

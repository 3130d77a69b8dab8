"""What :class:`~hub_webim.service.WebimService` returns: typed records that each adapter renders
through ``hub.records``. Field names are REST's (``monitor`` camelCases them); REST's maps
(``class -> count``, ``channel -> {error_cnt}``) are lists of records here, which GraphQL and
gRPC take as they are."""

from __future__ import annotations

from dataclasses import dataclass, fields
from datetime import datetime


@dataclass(frozen=True)
class Result:
    result: str = "ok"


@dataclass(frozen=True)
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


@dataclass(frozen=True)
class Monitor:
    main_info: MainInfo
    host: str


@dataclass(frozen=True)
class TimerLastMin:
    timer: str  # "timer: <plugin>.<job>", REST's key
    count: int
    execution_times: tuple[float, ...]
    func_name: str


@dataclass(frozen=True)
class TimerFailure:
    timer_name: str
    func_name: str
    execution_time: float
    ts: float


@dataclass(frozen=True)
class TimerStats:
    last_min: tuple[TimerLastMin, ...]
    failed: tuple[TimerFailure, ...]


@dataclass(frozen=True)
class Counters:
    """The counters of an accounts-stat row: the first ten are set by the admin, the storagers'
    eight are the sums of the objects their collectors hold."""

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

    @property
    def counters(self) -> Counters:
        """The counters alone: gRPC nests them in a message, REST and GraphQL do not."""
        return Counters(**{f.name: getattr(self, f.name) for f in fields(Counters)})


# A row's fields come from its bases in reverse order (dataclasses collect them from the last
# base first), so ``Row(Counters, Named)`` reads name, then the counters, then its own fields:
# accounts-stat's order.
@dataclass(frozen=True)
class _Named:
    name: str


@dataclass(frozen=True)
class _NamedAccount:
    name: str
    domain: str


@dataclass(frozen=True)
class AccountsTotal(Counters, _Named):
    """accounts-stat's TOTAL row: ``not_belongs_to_tornado_instance`` counts the accounts so
    marked whose mark is not ignored."""

    not_belongs_to_tornado_instance: int


@dataclass(frozen=True)
class AccountRow(Counters, _NamedAccount):
    """An account's accounts-stat row as REST writes it: no ``blocked`` (zabbix/tornado's
    business)."""

    not_belongs_to_tornado_instance: bool
    ignore_not_belongs_to_tornado_instance: bool


@dataclass(frozen=True)
class Account(AccountRow):
    """``blocked`` is ``None`` where it is not known: a Webim fronted in upstream mode reports
    it per account (account-state), not in accounts-stat."""

    blocked: bool | None


@dataclass(frozen=True)
class AccountsStat:
    total: AccountsTotal
    accounts: tuple[Account, ...]


@dataclass(frozen=True)
class ZabbixTornado:
    sessions_cnt: int
    working_operators_cnt: int
    chats_cnt: int
    accounts_cnt: int
    failed_to_store_objects_cnt: int
    collected_to_store_objects_cnt: int


@dataclass(frozen=True)
class ChannelErrors:
    channel: str
    error_cnt: int


@dataclass(frozen=True)
class ObjectCount:
    class_name: str
    count: int


@dataclass(frozen=True)
class Environment:
    host: str
    env: str
    ip: str


@dataclass(frozen=True)
class AccountState:
    blocked: bool


@dataclass(frozen=True)
class Info:
    """info.php's 12 keys (spaces for underscores); ``None`` is PHP's NULL (which a fronted
    Webim may print for any of them)."""

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

    def php_array(self) -> dict[str, str | None]:
        """The keys as info.php writes them, in its order."""
        return {f.name.replace("_", " "): getattr(self, f.name) for f in fields(self)}


@dataclass(frozen=True)
class LogLevel:
    name: str
    logger: str
    level: str
    effective_level: str


@dataclass(frozen=True)
class LogLevelChange:
    """set-log-level's answer: every logger set, ``logger`` being the first."""

    result: str
    name: str
    logger: str
    loggers: tuple[str, ...]
    level: str


@dataclass(frozen=True)
class LongPolling:
    avg_n_tries: float
    n: int


RESTART_TOPIC = "webim.instance_restarted"


@dataclass(frozen=True)
class InstanceRestart:
    """The fronted Webim's instance-id changed between two readings: its chat backend
    restarted (the seed: a new ``TORNADO_INSTANCE_ID`` at every start)."""

    instance_id: str
    previous_instance_id: str
    seen_at: datetime

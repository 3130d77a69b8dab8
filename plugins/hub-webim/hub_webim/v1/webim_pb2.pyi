from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Empty(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Result(_message.Message):
    __slots__ = ("result",)
    RESULT_FIELD_NUMBER: _ClassVar[int]
    result: str
    def __init__(self, result: _Optional[str] = ...) -> None: ...

class PingRequest(_message.Message):
    __slots__ = ("auth_token", "pinger_id", "ts")
    AUTH_TOKEN_FIELD_NUMBER: _ClassVar[int]
    PINGER_ID_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    auth_token: str
    pinger_id: str
    ts: str
    def __init__(self, auth_token: _Optional[str] = ..., pinger_id: _Optional[str] = ..., ts: _Optional[str] = ...) -> None: ...

class MainInfo(_message.Message):
    __slots__ = ("env", "port", "multinode_mode", "node_name", "start_ts", "start_time", "version", "os_name", "os_version", "ubuntu_version", "branch", "revision", "tag", "avg_n_tries", "n", "storing_enabled")
    ENV_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    MULTINODE_MODE_FIELD_NUMBER: _ClassVar[int]
    NODE_NAME_FIELD_NUMBER: _ClassVar[int]
    START_TS_FIELD_NUMBER: _ClassVar[int]
    START_TIME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    OS_NAME_FIELD_NUMBER: _ClassVar[int]
    OS_VERSION_FIELD_NUMBER: _ClassVar[int]
    UBUNTU_VERSION_FIELD_NUMBER: _ClassVar[int]
    BRANCH_FIELD_NUMBER: _ClassVar[int]
    REVISION_FIELD_NUMBER: _ClassVar[int]
    TAG_FIELD_NUMBER: _ClassVar[int]
    AVG_N_TRIES_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    STORING_ENABLED_FIELD_NUMBER: _ClassVar[int]
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
    def __init__(self, env: _Optional[str] = ..., port: _Optional[int] = ..., multinode_mode: _Optional[str] = ..., node_name: _Optional[str] = ..., start_ts: _Optional[float] = ..., start_time: _Optional[str] = ..., version: _Optional[str] = ..., os_name: _Optional[str] = ..., os_version: _Optional[str] = ..., ubuntu_version: _Optional[str] = ..., branch: _Optional[str] = ..., revision: _Optional[str] = ..., tag: _Optional[str] = ..., avg_n_tries: _Optional[float] = ..., n: _Optional[int] = ..., storing_enabled: _Optional[bool] = ...) -> None: ...

class Monitor(_message.Message):
    __slots__ = ("main_info", "host")
    MAIN_INFO_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    main_info: MainInfo
    host: str
    def __init__(self, main_info: _Optional[_Union[MainInfo, _Mapping]] = ..., host: _Optional[str] = ...) -> None: ...

class TimerLastMin(_message.Message):
    __slots__ = ("timer", "count", "execution_times", "func_name")
    TIMER_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIMES_FIELD_NUMBER: _ClassVar[int]
    FUNC_NAME_FIELD_NUMBER: _ClassVar[int]
    timer: str
    count: int
    execution_times: _containers.RepeatedScalarFieldContainer[float]
    func_name: str
    def __init__(self, timer: _Optional[str] = ..., count: _Optional[int] = ..., execution_times: _Optional[_Iterable[float]] = ..., func_name: _Optional[str] = ...) -> None: ...

class TimerFailure(_message.Message):
    __slots__ = ("timer_name", "func_name", "execution_time", "ts")
    TIMER_NAME_FIELD_NUMBER: _ClassVar[int]
    FUNC_NAME_FIELD_NUMBER: _ClassVar[int]
    EXECUTION_TIME_FIELD_NUMBER: _ClassVar[int]
    TS_FIELD_NUMBER: _ClassVar[int]
    timer_name: str
    func_name: str
    execution_time: float
    ts: float
    def __init__(self, timer_name: _Optional[str] = ..., func_name: _Optional[str] = ..., execution_time: _Optional[float] = ..., ts: _Optional[float] = ...) -> None: ...

class TimerStats(_message.Message):
    __slots__ = ("last_min", "failed")
    LAST_MIN_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    last_min: _containers.RepeatedCompositeFieldContainer[TimerLastMin]
    failed: _containers.RepeatedCompositeFieldContainer[TimerFailure]
    def __init__(self, last_min: _Optional[_Iterable[_Union[TimerLastMin, _Mapping]]] = ..., failed: _Optional[_Iterable[_Union[TimerFailure, _Mapping]]] = ...) -> None: ...

class Counters(_message.Message):
    __slots__ = ("sessions_cnt", "visible_sessions_cnt", "alive_sessions_cnt", "pages_cnt", "alive_pages_cnt", "online_operators_cnt", "working_operators_cnt", "chats_cnt", "offline_chats_cnt", "in_queue_cnt", "failed_to_store_objects_cnt", "collected_to_store_objects_cnt", "being_stored_now_objects_cnt", "being_stored_now_processed_objects_cnt", "failed_to_store_objects_cnt_1", "collected_to_store_objects_cnt_1", "being_stored_now_objects_cnt_1", "being_stored_now_processed_objects_cnt_1")
    SESSIONS_CNT_FIELD_NUMBER: _ClassVar[int]
    VISIBLE_SESSIONS_CNT_FIELD_NUMBER: _ClassVar[int]
    ALIVE_SESSIONS_CNT_FIELD_NUMBER: _ClassVar[int]
    PAGES_CNT_FIELD_NUMBER: _ClassVar[int]
    ALIVE_PAGES_CNT_FIELD_NUMBER: _ClassVar[int]
    ONLINE_OPERATORS_CNT_FIELD_NUMBER: _ClassVar[int]
    WORKING_OPERATORS_CNT_FIELD_NUMBER: _ClassVar[int]
    CHATS_CNT_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_CHATS_CNT_FIELD_NUMBER: _ClassVar[int]
    IN_QUEUE_CNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_TO_STORE_OBJECTS_CNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_TO_STORE_OBJECTS_CNT_FIELD_NUMBER: _ClassVar[int]
    BEING_STORED_NOW_OBJECTS_CNT_FIELD_NUMBER: _ClassVar[int]
    BEING_STORED_NOW_PROCESSED_OBJECTS_CNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_TO_STORE_OBJECTS_CNT_1_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_TO_STORE_OBJECTS_CNT_1_FIELD_NUMBER: _ClassVar[int]
    BEING_STORED_NOW_OBJECTS_CNT_1_FIELD_NUMBER: _ClassVar[int]
    BEING_STORED_NOW_PROCESSED_OBJECTS_CNT_1_FIELD_NUMBER: _ClassVar[int]
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
    def __init__(self, sessions_cnt: _Optional[int] = ..., visible_sessions_cnt: _Optional[int] = ..., alive_sessions_cnt: _Optional[int] = ..., pages_cnt: _Optional[int] = ..., alive_pages_cnt: _Optional[int] = ..., online_operators_cnt: _Optional[int] = ..., working_operators_cnt: _Optional[int] = ..., chats_cnt: _Optional[int] = ..., offline_chats_cnt: _Optional[int] = ..., in_queue_cnt: _Optional[int] = ..., failed_to_store_objects_cnt: _Optional[int] = ..., collected_to_store_objects_cnt: _Optional[int] = ..., being_stored_now_objects_cnt: _Optional[int] = ..., being_stored_now_processed_objects_cnt: _Optional[int] = ..., failed_to_store_objects_cnt_1: _Optional[int] = ..., collected_to_store_objects_cnt_1: _Optional[int] = ..., being_stored_now_objects_cnt_1: _Optional[int] = ..., being_stored_now_processed_objects_cnt_1: _Optional[int] = ...) -> None: ...

class Account(_message.Message):
    __slots__ = ("name", "domain", "counters", "not_belongs_to_tornado_instance", "ignore_not_belongs_to_tornado_instance", "blocked")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    NOT_BELONGS_TO_TORNADO_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    IGNORE_NOT_BELONGS_TO_TORNADO_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    name: str
    domain: str
    counters: Counters
    not_belongs_to_tornado_instance: bool
    ignore_not_belongs_to_tornado_instance: bool
    blocked: bool
    def __init__(self, name: _Optional[str] = ..., domain: _Optional[str] = ..., counters: _Optional[_Union[Counters, _Mapping]] = ..., not_belongs_to_tornado_instance: _Optional[bool] = ..., ignore_not_belongs_to_tornado_instance: _Optional[bool] = ..., blocked: _Optional[bool] = ...) -> None: ...

class AccountsTotal(_message.Message):
    __slots__ = ("name", "counters", "not_belongs_to_tornado_instance")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    NOT_BELONGS_TO_TORNADO_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    counters: Counters
    not_belongs_to_tornado_instance: int
    def __init__(self, name: _Optional[str] = ..., counters: _Optional[_Union[Counters, _Mapping]] = ..., not_belongs_to_tornado_instance: _Optional[int] = ...) -> None: ...

class AccountsStat(_message.Message):
    __slots__ = ("total", "accounts")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_FIELD_NUMBER: _ClassVar[int]
    total: AccountsTotal
    accounts: _containers.RepeatedCompositeFieldContainer[Account]
    def __init__(self, total: _Optional[_Union[AccountsTotal, _Mapping]] = ..., accounts: _Optional[_Iterable[_Union[Account, _Mapping]]] = ...) -> None: ...

class ZabbixTornado(_message.Message):
    __slots__ = ("sessions_cnt", "working_operators_cnt", "chats_cnt", "accounts_cnt", "failed_to_store_objects_cnt", "collected_to_store_objects_cnt")
    SESSIONS_CNT_FIELD_NUMBER: _ClassVar[int]
    WORKING_OPERATORS_CNT_FIELD_NUMBER: _ClassVar[int]
    CHATS_CNT_FIELD_NUMBER: _ClassVar[int]
    ACCOUNTS_CNT_FIELD_NUMBER: _ClassVar[int]
    FAILED_TO_STORE_OBJECTS_CNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTED_TO_STORE_OBJECTS_CNT_FIELD_NUMBER: _ClassVar[int]
    sessions_cnt: int
    working_operators_cnt: int
    chats_cnt: int
    accounts_cnt: int
    failed_to_store_objects_cnt: int
    collected_to_store_objects_cnt: int
    def __init__(self, sessions_cnt: _Optional[int] = ..., working_operators_cnt: _Optional[int] = ..., chats_cnt: _Optional[int] = ..., accounts_cnt: _Optional[int] = ..., failed_to_store_objects_cnt: _Optional[int] = ..., collected_to_store_objects_cnt: _Optional[int] = ...) -> None: ...

class ChannelErrors(_message.Message):
    __slots__ = ("channel", "error_cnt")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_CNT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    error_cnt: int
    def __init__(self, channel: _Optional[str] = ..., error_cnt: _Optional[int] = ...) -> None: ...

class ZabbixChannels(_message.Message):
    __slots__ = ("channels",)
    CHANNELS_FIELD_NUMBER: _ClassVar[int]
    channels: _containers.RepeatedCompositeFieldContainer[ChannelErrors]
    def __init__(self, channels: _Optional[_Iterable[_Union[ChannelErrors, _Mapping]]] = ...) -> None: ...

class CollectedRequest(_message.Message):
    __slots__ = ("mode", "account_name", "collector_name", "num")
    MODE_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_NAME_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_NAME_FIELD_NUMBER: _ClassVar[int]
    NUM_FIELD_NUMBER: _ClassVar[int]
    mode: str
    account_name: str
    collector_name: str
    num: str
    def __init__(self, mode: _Optional[str] = ..., account_name: _Optional[str] = ..., collector_name: _Optional[str] = ..., num: _Optional[str] = ...) -> None: ...

class ObjectCount(_message.Message):
    __slots__ = ("class_name", "count")
    CLASS_NAME_FIELD_NUMBER: _ClassVar[int]
    COUNT_FIELD_NUMBER: _ClassVar[int]
    class_name: str
    count: int
    def __init__(self, class_name: _Optional[str] = ..., count: _Optional[int] = ...) -> None: ...

class ObjectCounts(_message.Message):
    __slots__ = ("objects",)
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    objects: _containers.RepeatedCompositeFieldContainer[ObjectCount]
    def __init__(self, objects: _Optional[_Iterable[_Union[ObjectCount, _Mapping]]] = ...) -> None: ...

class InstanceId(_message.Message):
    __slots__ = ("instance_id",)
    INSTANCE_ID_FIELD_NUMBER: _ClassVar[int]
    instance_id: str
    def __init__(self, instance_id: _Optional[str] = ...) -> None: ...

class AccountStateRequest(_message.Message):
    __slots__ = ("action", "account", "host")
    ACTION_FIELD_NUMBER: _ClassVar[int]
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    HOST_FIELD_NUMBER: _ClassVar[int]
    action: str
    account: str
    host: str
    def __init__(self, action: _Optional[str] = ..., account: _Optional[str] = ..., host: _Optional[str] = ...) -> None: ...

class AccountState(_message.Message):
    __slots__ = ("blocked",)
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    blocked: bool
    def __init__(self, blocked: _Optional[bool] = ...) -> None: ...

class TornadoPorts(_message.Message):
    __slots__ = ("ports",)
    PORTS_FIELD_NUMBER: _ClassVar[int]
    ports: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ports: _Optional[_Iterable[str]] = ...) -> None: ...

class Environment(_message.Message):
    __slots__ = ("host", "env", "ip")
    HOST_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    IP_FIELD_NUMBER: _ClassVar[int]
    host: str
    env: str
    ip: str
    def __init__(self, host: _Optional[str] = ..., env: _Optional[str] = ..., ip: _Optional[str] = ...) -> None: ...

class Environments(_message.Message):
    __slots__ = ("environments",)
    ENVIRONMENTS_FIELD_NUMBER: _ClassVar[int]
    environments: _containers.RepeatedCompositeFieldContainer[Environment]
    def __init__(self, environments: _Optional[_Iterable[_Union[Environment, _Mapping]]] = ...) -> None: ...

class InfoRequest(_message.Message):
    __slots__ = ("host",)
    HOST_FIELD_NUMBER: _ClassVar[int]
    host: str
    def __init__(self, host: _Optional[str] = ...) -> None: ...

class InfoEntry(_message.Message):
    __slots__ = ("key", "value")
    KEY_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    key: str
    value: str
    def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...

class Info(_message.Message):
    __slots__ = ("entries",)
    ENTRIES_FIELD_NUMBER: _ClassVar[int]
    entries: _containers.RepeatedCompositeFieldContainer[InfoEntry]
    def __init__(self, entries: _Optional[_Iterable[_Union[InfoEntry, _Mapping]]] = ...) -> None: ...

class SetLogLevelRequest(_message.Message):
    __slots__ = ("name", "level", "current_node_only")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    CURRENT_NODE_ONLY_FIELD_NUMBER: _ClassVar[int]
    name: str
    level: str
    current_node_only: bool
    def __init__(self, name: _Optional[str] = ..., level: _Optional[str] = ..., current_node_only: _Optional[bool] = ...) -> None: ...

class GetLogLevelRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class LogLevel(_message.Message):
    __slots__ = ("name", "logger", "level", "effective_level")
    NAME_FIELD_NUMBER: _ClassVar[int]
    LOGGER_FIELD_NUMBER: _ClassVar[int]
    LEVEL_FIELD_NUMBER: _ClassVar[int]
    EFFECTIVE_LEVEL_FIELD_NUMBER: _ClassVar[int]
    name: str
    logger: str
    level: str
    effective_level: str
    def __init__(self, name: _Optional[str] = ..., logger: _Optional[str] = ..., level: _Optional[str] = ..., effective_level: _Optional[str] = ...) -> None: ...

class AccountInput(_message.Message):
    __slots__ = ("name", "domain", "blocked", "not_belongs_to_tornado_instance", "ignore_not_belongs_to_tornado_instance")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DOMAIN_FIELD_NUMBER: _ClassVar[int]
    BLOCKED_FIELD_NUMBER: _ClassVar[int]
    NOT_BELONGS_TO_TORNADO_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    IGNORE_NOT_BELONGS_TO_TORNADO_INSTANCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    domain: str
    blocked: bool
    not_belongs_to_tornado_instance: bool
    ignore_not_belongs_to_tornado_instance: bool
    def __init__(self, name: _Optional[str] = ..., domain: _Optional[str] = ..., blocked: _Optional[bool] = ..., not_belongs_to_tornado_instance: _Optional[bool] = ..., ignore_not_belongs_to_tornado_instance: _Optional[bool] = ...) -> None: ...

class DeleteAccountRequest(_message.Message):
    __slots__ = ("name",)
    NAME_FIELD_NUMBER: _ClassVar[int]
    name: str
    def __init__(self, name: _Optional[str] = ...) -> None: ...

class CounterValue(_message.Message):
    __slots__ = ("counter", "value")
    COUNTER_FIELD_NUMBER: _ClassVar[int]
    VALUE_FIELD_NUMBER: _ClassVar[int]
    counter: str
    value: int
    def __init__(self, counter: _Optional[str] = ..., value: _Optional[int] = ...) -> None: ...

class SetAccountCountersRequest(_message.Message):
    __slots__ = ("name", "counters")
    NAME_FIELD_NUMBER: _ClassVar[int]
    COUNTERS_FIELD_NUMBER: _ClassVar[int]
    name: str
    counters: _containers.RepeatedCompositeFieldContainer[CounterValue]
    def __init__(self, name: _Optional[str] = ..., counters: _Optional[_Iterable[_Union[CounterValue, _Mapping]]] = ...) -> None: ...

class SetStoreObjectsRequest(_message.Message):
    __slots__ = ("account", "collector", "objects")
    ACCOUNT_FIELD_NUMBER: _ClassVar[int]
    COLLECTOR_FIELD_NUMBER: _ClassVar[int]
    OBJECTS_FIELD_NUMBER: _ClassVar[int]
    account: str
    collector: str
    objects: _containers.RepeatedCompositeFieldContainer[ObjectCount]
    def __init__(self, account: _Optional[str] = ..., collector: _Optional[str] = ..., objects: _Optional[_Iterable[_Union[ObjectCount, _Mapping]]] = ...) -> None: ...

class SetChannelErrorsRequest(_message.Message):
    __slots__ = ("channel", "error_cnt")
    CHANNEL_FIELD_NUMBER: _ClassVar[int]
    ERROR_CNT_FIELD_NUMBER: _ClassVar[int]
    channel: str
    error_cnt: int
    def __init__(self, channel: _Optional[str] = ..., error_cnt: _Optional[int] = ...) -> None: ...

class DeleteEnvironmentRequest(_message.Message):
    __slots__ = ("host", "env")
    HOST_FIELD_NUMBER: _ClassVar[int]
    ENV_FIELD_NUMBER: _ClassVar[int]
    host: str
    env: str
    def __init__(self, host: _Optional[str] = ..., env: _Optional[str] = ...) -> None: ...

class RecordLongPollingRequest(_message.Message):
    __slots__ = ("tries",)
    TRIES_FIELD_NUMBER: _ClassVar[int]
    tries: float
    def __init__(self, tries: _Optional[float] = ...) -> None: ...

class LongPolling(_message.Message):
    __slots__ = ("avg_n_tries", "n")
    AVG_N_TRIES_FIELD_NUMBER: _ClassVar[int]
    N_FIELD_NUMBER: _ClassVar[int]
    avg_n_tries: float
    n: int
    def __init__(self, avg_n_tries: _Optional[float] = ..., n: _Optional[int] = ...) -> None: ...

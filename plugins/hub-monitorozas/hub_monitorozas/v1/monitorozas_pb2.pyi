from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class MeRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class MeResponse(_message.Message):
    __slots__ = ("user_id", "key_id", "scopes")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    KEY_ID_FIELD_NUMBER: _ClassVar[int]
    SCOPES_FIELD_NUMBER: _ClassVar[int]
    user_id: int
    key_id: int
    scopes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, user_id: _Optional[int] = ..., key_id: _Optional[int] = ..., scopes: _Optional[_Iterable[str]] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("offset", "limit")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    offset: int
    limit: int
    def __init__(self, offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class IdRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: int
    def __init__(self, id: _Optional[int] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("id", "deleted")
    ID_FIELD_NUMBER: _ClassVar[int]
    DELETED_FIELD_NUMBER: _ClassVar[int]
    id: int
    deleted: bool
    def __init__(self, id: _Optional[int] = ..., deleted: _Optional[bool] = ...) -> None: ...

class Device(_message.Message):
    __slots__ = ("id", "user_id", "target_type", "target_value", "service_type", "scheme", "port", "host_header", "proxy_enabled", "origin_host", "origin_scheme", "origin_port", "check_public_http", "check_public_https", "check_public_tls", "check_origin_http", "check_origin_tls", "expect_status", "location", "is_enabled", "last_status", "last_check_at", "last_response_ms", "last_error", "tls_expires_at", "created_at", "updated_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_HEADER_FIELD_NUMBER: _ClassVar[int]
    PROXY_ENABLED_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_HOST_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_SCHEME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_PORT_FIELD_NUMBER: _ClassVar[int]
    CHECK_PUBLIC_HTTP_FIELD_NUMBER: _ClassVar[int]
    CHECK_PUBLIC_HTTPS_FIELD_NUMBER: _ClassVar[int]
    CHECK_PUBLIC_TLS_FIELD_NUMBER: _ClassVar[int]
    CHECK_ORIGIN_HTTP_FIELD_NUMBER: _ClassVar[int]
    CHECK_ORIGIN_TLS_FIELD_NUMBER: _ClassVar[int]
    EXPECT_STATUS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    IS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECK_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_RESPONSE_MS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    TLS_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    id: int
    user_id: int
    target_type: str
    target_value: str
    service_type: str
    scheme: str
    port: int
    host_header: str
    proxy_enabled: bool
    origin_host: str
    origin_scheme: str
    origin_port: int
    check_public_http: bool
    check_public_https: bool
    check_public_tls: bool
    check_origin_http: bool
    check_origin_tls: bool
    expect_status: int
    location: str
    is_enabled: bool
    last_status: str
    last_check_at: str
    last_response_ms: int
    last_error: str
    tls_expires_at: str
    created_at: str
    updated_at: str
    def __init__(self, id: _Optional[int] = ..., user_id: _Optional[int] = ..., target_type: _Optional[str] = ..., target_value: _Optional[str] = ..., service_type: _Optional[str] = ..., scheme: _Optional[str] = ..., port: _Optional[int] = ..., host_header: _Optional[str] = ..., proxy_enabled: _Optional[bool] = ..., origin_host: _Optional[str] = ..., origin_scheme: _Optional[str] = ..., origin_port: _Optional[int] = ..., check_public_http: _Optional[bool] = ..., check_public_https: _Optional[bool] = ..., check_public_tls: _Optional[bool] = ..., check_origin_http: _Optional[bool] = ..., check_origin_tls: _Optional[bool] = ..., expect_status: _Optional[int] = ..., location: _Optional[str] = ..., is_enabled: _Optional[bool] = ..., last_status: _Optional[str] = ..., last_check_at: _Optional[str] = ..., last_response_ms: _Optional[int] = ..., last_error: _Optional[str] = ..., tls_expires_at: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ...) -> None: ...

class DeviceInput(_message.Message):
    __slots__ = ("target_type", "target_value", "service_type", "scheme", "port", "host_header", "proxy_enabled", "origin_host", "origin_scheme", "origin_port", "check_public_http", "check_public_https", "check_public_tls", "check_origin_http", "check_origin_tls", "expect_status", "location", "is_enabled", "user_id")
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    SERVICE_TYPE_FIELD_NUMBER: _ClassVar[int]
    SCHEME_FIELD_NUMBER: _ClassVar[int]
    PORT_FIELD_NUMBER: _ClassVar[int]
    HOST_HEADER_FIELD_NUMBER: _ClassVar[int]
    PROXY_ENABLED_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_HOST_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_SCHEME_FIELD_NUMBER: _ClassVar[int]
    ORIGIN_PORT_FIELD_NUMBER: _ClassVar[int]
    CHECK_PUBLIC_HTTP_FIELD_NUMBER: _ClassVar[int]
    CHECK_PUBLIC_HTTPS_FIELD_NUMBER: _ClassVar[int]
    CHECK_PUBLIC_TLS_FIELD_NUMBER: _ClassVar[int]
    CHECK_ORIGIN_HTTP_FIELD_NUMBER: _ClassVar[int]
    CHECK_ORIGIN_TLS_FIELD_NUMBER: _ClassVar[int]
    EXPECT_STATUS_FIELD_NUMBER: _ClassVar[int]
    LOCATION_FIELD_NUMBER: _ClassVar[int]
    IS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    target_type: str
    target_value: str
    service_type: str
    scheme: str
    port: int
    host_header: str
    proxy_enabled: bool
    origin_host: str
    origin_scheme: str
    origin_port: int
    check_public_http: bool
    check_public_https: bool
    check_public_tls: bool
    check_origin_http: bool
    check_origin_tls: bool
    expect_status: int
    location: str
    is_enabled: bool
    user_id: int
    def __init__(self, target_type: _Optional[str] = ..., target_value: _Optional[str] = ..., service_type: _Optional[str] = ..., scheme: _Optional[str] = ..., port: _Optional[int] = ..., host_header: _Optional[str] = ..., proxy_enabled: _Optional[bool] = ..., origin_host: _Optional[str] = ..., origin_scheme: _Optional[str] = ..., origin_port: _Optional[int] = ..., check_public_http: _Optional[bool] = ..., check_public_https: _Optional[bool] = ..., check_public_tls: _Optional[bool] = ..., check_origin_http: _Optional[bool] = ..., check_origin_tls: _Optional[bool] = ..., expect_status: _Optional[int] = ..., location: _Optional[str] = ..., is_enabled: _Optional[bool] = ..., user_id: _Optional[int] = ...) -> None: ...

class ListDevicesResponse(_message.Message):
    __slots__ = ("devices", "total_count")
    DEVICES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    devices: _containers.RepeatedCompositeFieldContainer[Device]
    total_count: int
    def __init__(self, devices: _Optional[_Iterable[_Union[Device, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class HistoryRequest(_message.Message):
    __slots__ = ("id", "limit")
    ID_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    id: int
    limit: int
    def __init__(self, id: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class SubCheck(_message.Message):
    __slots__ = ("check", "ok", "error")
    CHECK_FIELD_NUMBER: _ClassVar[int]
    OK_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    check: str
    ok: bool
    error: str
    def __init__(self, check: _Optional[str] = ..., ok: _Optional[bool] = ..., error: _Optional[str] = ...) -> None: ...

class CheckResult(_message.Message):
    __slots__ = ("checked_at", "status", "response_ms", "error", "tls_expires_at", "checks")
    CHECKED_AT_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RESPONSE_MS_FIELD_NUMBER: _ClassVar[int]
    ERROR_FIELD_NUMBER: _ClassVar[int]
    TLS_EXPIRES_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKS_FIELD_NUMBER: _ClassVar[int]
    checked_at: str
    status: str
    response_ms: int
    error: str
    tls_expires_at: str
    checks: _containers.RepeatedCompositeFieldContainer[SubCheck]
    def __init__(self, checked_at: _Optional[str] = ..., status: _Optional[str] = ..., response_ms: _Optional[int] = ..., error: _Optional[str] = ..., tls_expires_at: _Optional[str] = ..., checks: _Optional[_Iterable[_Union[SubCheck, _Mapping]]] = ...) -> None: ...

class HistoryResponse(_message.Message):
    __slots__ = ("results",)
    RESULTS_FIELD_NUMBER: _ClassVar[int]
    results: _containers.RepeatedCompositeFieldContainer[CheckResult]
    def __init__(self, results: _Optional[_Iterable[_Union[CheckResult, _Mapping]]] = ...) -> None: ...

class BlacklistMonitor(_message.Message):
    __slots__ = ("id", "user_id", "target_type", "target_value", "is_enabled", "last_status", "last_check_at", "listed_on", "last_error", "created_at", "updated_at", "listings")
    ID_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    IS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_CHECK_AT_FIELD_NUMBER: _ClassVar[int]
    LISTED_ON_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    LISTINGS_FIELD_NUMBER: _ClassVar[int]
    id: int
    user_id: int
    target_type: str
    target_value: str
    is_enabled: bool
    last_status: str
    last_check_at: str
    listed_on: _containers.RepeatedScalarFieldContainer[str]
    last_error: str
    created_at: str
    updated_at: str
    listings: _containers.RepeatedCompositeFieldContainer[Listing]
    def __init__(self, id: _Optional[int] = ..., user_id: _Optional[int] = ..., target_type: _Optional[str] = ..., target_value: _Optional[str] = ..., is_enabled: _Optional[bool] = ..., last_status: _Optional[str] = ..., last_check_at: _Optional[str] = ..., listed_on: _Optional[_Iterable[str]] = ..., last_error: _Optional[str] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., listings: _Optional[_Iterable[_Union[Listing, _Mapping]]] = ...) -> None: ...

class Listing(_message.Message):
    __slots__ = ("zone", "codes")
    ZONE_FIELD_NUMBER: _ClassVar[int]
    CODES_FIELD_NUMBER: _ClassVar[int]
    zone: str
    codes: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, zone: _Optional[str] = ..., codes: _Optional[_Iterable[str]] = ...) -> None: ...

class BlacklistMonitorInput(_message.Message):
    __slots__ = ("target_type", "target_value", "is_enabled", "user_id")
    TARGET_TYPE_FIELD_NUMBER: _ClassVar[int]
    TARGET_VALUE_FIELD_NUMBER: _ClassVar[int]
    IS_ENABLED_FIELD_NUMBER: _ClassVar[int]
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    target_type: str
    target_value: str
    is_enabled: bool
    user_id: int
    def __init__(self, target_type: _Optional[str] = ..., target_value: _Optional[str] = ..., is_enabled: _Optional[bool] = ..., user_id: _Optional[int] = ...) -> None: ...

class ListBlacklistMonitorsResponse(_message.Message):
    __slots__ = ("blacklist_monitors", "total_count")
    BLACKLIST_MONITORS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    blacklist_monitors: _containers.RepeatedCompositeFieldContainer[BlacklistMonitor]
    total_count: int
    def __init__(self, blacklist_monitors: _Optional[_Iterable[_Union[BlacklistMonitor, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class WatchRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class StatusChange(_message.Message):
    __slots__ = ("device", "previous_status")
    DEVICE_FIELD_NUMBER: _ClassVar[int]
    PREVIOUS_STATUS_FIELD_NUMBER: _ClassVar[int]
    device: Device
    previous_status: str
    def __init__(self, device: _Optional[_Union[Device, _Mapping]] = ..., previous_status: _Optional[str] = ...) -> None: ...

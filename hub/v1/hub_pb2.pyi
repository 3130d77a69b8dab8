from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Plugin(_message.Message):
    __slots__ = ("name", "version", "hooks", "source")
    NAME_FIELD_NUMBER: _ClassVar[int]
    VERSION_FIELD_NUMBER: _ClassVar[int]
    HOOKS_FIELD_NUMBER: _ClassVar[int]
    SOURCE_FIELD_NUMBER: _ClassVar[int]
    name: str
    version: str
    hooks: _containers.RepeatedScalarFieldContainer[str]
    source: str
    def __init__(self, name: _Optional[str] = ..., version: _Optional[str] = ..., hooks: _Optional[_Iterable[str]] = ..., source: _Optional[str] = ...) -> None: ...

class ListPluginsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListPluginsResponse(_message.Message):
    __slots__ = ("plugins",)
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    plugins: _containers.RepeatedCompositeFieldContainer[Plugin]
    def __init__(self, plugins: _Optional[_Iterable[_Union[Plugin, _Mapping]]] = ...) -> None: ...

class HealthRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class Probe(_message.Message):
    __slots__ = ("plugin", "name", "status", "detail", "critical")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    CRITICAL_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    name: str
    status: str
    detail: str
    critical: bool
    def __init__(self, plugin: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ..., detail: _Optional[str] = ..., critical: _Optional[bool] = ...) -> None: ...

class PluginHealth(_message.Message):
    __slots__ = ("plugin", "status", "detail")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    status: str
    detail: str
    def __init__(self, plugin: _Optional[str] = ..., status: _Optional[str] = ..., detail: _Optional[str] = ...) -> None: ...

class HealthResponse(_message.Message):
    __slots__ = ("status", "plugins", "probes")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    PLUGINS_FIELD_NUMBER: _ClassVar[int]
    PROBES_FIELD_NUMBER: _ClassVar[int]
    status: str
    plugins: _containers.RepeatedCompositeFieldContainer[PluginHealth]
    probes: _containers.RepeatedCompositeFieldContainer[Probe]
    def __init__(self, status: _Optional[str] = ..., plugins: _Optional[_Iterable[_Union[PluginHealth, _Mapping]]] = ..., probes: _Optional[_Iterable[_Union[Probe, _Mapping]]] = ...) -> None: ...

class AddCredentialRequest(_message.Message):
    __slots__ = ("plugin", "params")
    class ParamsEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    PARAMS_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    params: _containers.ScalarMap[str, str]
    def __init__(self, plugin: _Optional[str] = ..., params: _Optional[_Mapping[str, str]] = ...) -> None: ...

class AddCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: _struct_pb2.Struct
    def __init__(self, credential: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Credential(_message.Message):
    __slots__ = ("id", "plugin", "login", "attrs", "created_at", "last_used_at", "revoked_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    LOGIN_FIELD_NUMBER: _ClassVar[int]
    ATTRS_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_USED_AT_FIELD_NUMBER: _ClassVar[int]
    REVOKED_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    plugin: str
    login: str
    attrs: _struct_pb2.Struct
    created_at: str
    last_used_at: str
    revoked_at: str
    def __init__(self, id: _Optional[str] = ..., plugin: _Optional[str] = ..., login: _Optional[str] = ..., attrs: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., created_at: _Optional[str] = ..., last_used_at: _Optional[str] = ..., revoked_at: _Optional[str] = ...) -> None: ...

class ListCredentialsRequest(_message.Message):
    __slots__ = ("plugin", "offset", "limit")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    offset: int
    limit: int
    def __init__(self, plugin: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListCredentialsResponse(_message.Message):
    __slots__ = ("credentials", "total_count")
    CREDENTIALS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    credentials: _containers.RepeatedCompositeFieldContainer[Credential]
    total_count: int
    def __init__(self, credentials: _Optional[_Iterable[_Union[Credential, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class RevokeCredentialRequest(_message.Message):
    __slots__ = ("plugin", "id")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    id: str
    def __init__(self, plugin: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class RevokeCredentialResponse(_message.Message):
    __slots__ = ("credential",)
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    credential: Credential
    def __init__(self, credential: _Optional[_Union[Credential, _Mapping]] = ...) -> None: ...

class RotateCredentialRequest(_message.Message):
    __slots__ = ("plugin", "id")
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    id: str
    def __init__(self, plugin: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class RotateCredentialResponse(_message.Message):
    __slots__ = ("id", "credential")
    ID_FIELD_NUMBER: _ClassVar[int]
    CREDENTIAL_FIELD_NUMBER: _ClassVar[int]
    id: str
    credential: _struct_pb2.Struct
    def __init__(self, id: _Optional[str] = ..., credential: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class UpstreamHistoryRequest(_message.Message):
    __slots__ = ("plugin", "path", "query", "offset", "limit")
    class QueryEntry(_message.Message):
        __slots__ = ("key", "value")
        KEY_FIELD_NUMBER: _ClassVar[int]
        VALUE_FIELD_NUMBER: _ClassVar[int]
        key: str
        value: str
        def __init__(self, key: _Optional[str] = ..., value: _Optional[str] = ...) -> None: ...
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    QUERY_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    plugin: str
    path: str
    query: _containers.ScalarMap[str, str]
    offset: int
    limit: int
    def __init__(self, plugin: _Optional[str] = ..., path: _Optional[str] = ..., query: _Optional[_Mapping[str, str]] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class UpstreamVersion(_message.Message):
    __slots__ = ("fetched_at", "content_type", "body")
    FETCHED_AT_FIELD_NUMBER: _ClassVar[int]
    CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    BODY_FIELD_NUMBER: _ClassVar[int]
    fetched_at: str
    content_type: str
    body: str
    def __init__(self, fetched_at: _Optional[str] = ..., content_type: _Optional[str] = ..., body: _Optional[str] = ...) -> None: ...

class UpstreamHistoryResponse(_message.Message):
    __slots__ = ("versions", "total_count")
    VERSIONS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    versions: _containers.RepeatedCompositeFieldContainer[UpstreamVersion]
    total_count: int
    def __init__(self, versions: _Optional[_Iterable[_Union[UpstreamVersion, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class UpstreamWriteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpstreamWriteState(_message.Message):
    __slots__ = ("id", "plugin", "status", "attempts", "last_error", "created_at", "replied_at", "reply_status", "reply_content_type", "reply_body")
    ID_FIELD_NUMBER: _ClassVar[int]
    PLUGIN_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLIED_AT_FIELD_NUMBER: _ClassVar[int]
    REPLY_STATUS_FIELD_NUMBER: _ClassVar[int]
    REPLY_CONTENT_TYPE_FIELD_NUMBER: _ClassVar[int]
    REPLY_BODY_FIELD_NUMBER: _ClassVar[int]
    id: str
    plugin: str
    status: str
    attempts: int
    last_error: str
    created_at: str
    replied_at: str
    reply_status: int
    reply_content_type: str
    reply_body: str
    def __init__(self, id: _Optional[str] = ..., plugin: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., last_error: _Optional[str] = ..., created_at: _Optional[str] = ..., replied_at: _Optional[str] = ..., reply_status: _Optional[int] = ..., reply_content_type: _Optional[str] = ..., reply_body: _Optional[str] = ...) -> None: ...

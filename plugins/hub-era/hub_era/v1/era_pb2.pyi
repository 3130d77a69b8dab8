from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class Opts(_message.Message):
    __slots__ = ("title", "comment", "allow_files_api", "issync")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_FILES_API_FIELD_NUMBER: _ClassVar[int]
    ISSYNC_FIELD_NUMBER: _ClassVar[int]
    title: str
    comment: str
    allow_files_api: bool
    issync: bool
    def __init__(self, title: _Optional[str] = ..., comment: _Optional[str] = ..., allow_files_api: _Optional[bool] = ..., issync: _Optional[bool] = ...) -> None: ...

class Ext(_message.Message):
    __slots__ = ("ct", "lwt")
    CT_FIELD_NUMBER: _ClassVar[int]
    LWT_FIELD_NUMBER: _ClassVar[int]
    ct: str
    lwt: str
    def __init__(self, ct: _Optional[str] = ..., lwt: _Optional[str] = ...) -> None: ...

class IntegrationPoint(_message.Message):
    __slots__ = ("id", "code", "type", "token_local", "token_remote", "token_remote2", "url", "recv_svcscriptcode", "recv_svcscriptcode_ws", "send_svcscriptcode", "send_svcscriptcode_ws", "opts", "ext")
    ID_FIELD_NUMBER: _ClassVar[int]
    CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_LOCAL_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REMOTE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REMOTE2_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    RECV_SVCSCRIPTCODE_FIELD_NUMBER: _ClassVar[int]
    RECV_SVCSCRIPTCODE_WS_FIELD_NUMBER: _ClassVar[int]
    SEND_SVCSCRIPTCODE_FIELD_NUMBER: _ClassVar[int]
    SEND_SVCSCRIPTCODE_WS_FIELD_NUMBER: _ClassVar[int]
    OPTS_FIELD_NUMBER: _ClassVar[int]
    EXT_FIELD_NUMBER: _ClassVar[int]
    id: str
    code: str
    type: str
    token_local: str
    token_remote: str
    token_remote2: str
    url: str
    recv_svcscriptcode: str
    recv_svcscriptcode_ws: str
    send_svcscriptcode: str
    send_svcscriptcode_ws: str
    opts: Opts
    ext: Ext
    def __init__(self, id: _Optional[str] = ..., code: _Optional[str] = ..., type: _Optional[str] = ..., token_local: _Optional[str] = ..., token_remote: _Optional[str] = ..., token_remote2: _Optional[str] = ..., url: _Optional[str] = ..., recv_svcscriptcode: _Optional[str] = ..., recv_svcscriptcode_ws: _Optional[str] = ..., send_svcscriptcode: _Optional[str] = ..., send_svcscriptcode_ws: _Optional[str] = ..., opts: _Optional[_Union[Opts, _Mapping]] = ..., ext: _Optional[_Union[Ext, _Mapping]] = ...) -> None: ...

class OptsInput(_message.Message):
    __slots__ = ("title", "comment", "allow_files_api", "issync")
    TITLE_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    ALLOW_FILES_API_FIELD_NUMBER: _ClassVar[int]
    ISSYNC_FIELD_NUMBER: _ClassVar[int]
    title: str
    comment: str
    allow_files_api: bool
    issync: bool
    def __init__(self, title: _Optional[str] = ..., comment: _Optional[str] = ..., allow_files_api: _Optional[bool] = ..., issync: _Optional[bool] = ...) -> None: ...

class IntegrationPointInput(_message.Message):
    __slots__ = ("code", "type", "token_remote", "token_remote2", "url", "recv_svcscriptcode", "recv_svcscriptcode_ws", "send_svcscriptcode", "send_svcscriptcode_ws", "opts")
    CODE_FIELD_NUMBER: _ClassVar[int]
    TYPE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REMOTE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_REMOTE2_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    RECV_SVCSCRIPTCODE_FIELD_NUMBER: _ClassVar[int]
    RECV_SVCSCRIPTCODE_WS_FIELD_NUMBER: _ClassVar[int]
    SEND_SVCSCRIPTCODE_FIELD_NUMBER: _ClassVar[int]
    SEND_SVCSCRIPTCODE_WS_FIELD_NUMBER: _ClassVar[int]
    OPTS_FIELD_NUMBER: _ClassVar[int]
    code: str
    type: str
    token_remote: str
    token_remote2: str
    url: str
    recv_svcscriptcode: str
    recv_svcscriptcode_ws: str
    send_svcscriptcode: str
    send_svcscriptcode_ws: str
    opts: OptsInput
    def __init__(self, code: _Optional[str] = ..., type: _Optional[str] = ..., token_remote: _Optional[str] = ..., token_remote2: _Optional[str] = ..., url: _Optional[str] = ..., recv_svcscriptcode: _Optional[str] = ..., recv_svcscriptcode_ws: _Optional[str] = ..., send_svcscriptcode: _Optional[str] = ..., send_svcscriptcode_ws: _Optional[str] = ..., opts: _Optional[_Union[OptsInput, _Mapping]] = ...) -> None: ...

class CreateRequest(_message.Message):
    __slots__ = ("integration_point",)
    INTEGRATION_POINT_FIELD_NUMBER: _ClassVar[int]
    integration_point: IntegrationPointInput
    def __init__(self, integration_point: _Optional[_Union[IntegrationPointInput, _Mapping]] = ...) -> None: ...

class Order(_message.Message):
    __slots__ = ("field", "desc")
    FIELD_FIELD_NUMBER: _ClassVar[int]
    DESC_FIELD_NUMBER: _ClassVar[int]
    field: str
    desc: bool
    def __init__(self, field: _Optional[str] = ..., desc: _Optional[bool] = ...) -> None: ...

class ListRequest(_message.Message):
    __slots__ = ("filter", "order", "offset", "limit")
    FILTER_FIELD_NUMBER: _ClassVar[int]
    ORDER_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    filter: _struct_pb2.Struct
    order: _containers.RepeatedCompositeFieldContainer[Order]
    offset: int
    limit: int
    def __init__(self, filter: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., order: _Optional[_Iterable[_Union[Order, _Mapping]]] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListResponse(_message.Message):
    __slots__ = ("integration_points", "total_count")
    INTEGRATION_POINTS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    integration_points: _containers.RepeatedCompositeFieldContainer[IntegrationPoint]
    total_count: int
    def __init__(self, integration_points: _Optional[_Iterable[_Union[IntegrationPoint, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class GetRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class UpdateRequest(_message.Message):
    __slots__ = ("id", "integration_point")
    ID_FIELD_NUMBER: _ClassVar[int]
    INTEGRATION_POINT_FIELD_NUMBER: _ClassVar[int]
    id: str
    integration_point: IntegrationPointInput
    def __init__(self, id: _Optional[str] = ..., integration_point: _Optional[_Union[IntegrationPointInput, _Mapping]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class LookupRequest(_message.Message):
    __slots__ = ("key", "field")
    KEY_FIELD_NUMBER: _ClassVar[int]
    FIELD_FIELD_NUMBER: _ClassVar[int]
    key: str
    field: str
    def __init__(self, key: _Optional[str] = ..., field: _Optional[str] = ...) -> None: ...

class LookupResponse(_message.Message):
    __slots__ = ("ids",)
    IDS_FIELD_NUMBER: _ClassVar[int]
    ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, ids: _Optional[_Iterable[str]] = ...) -> None: ...

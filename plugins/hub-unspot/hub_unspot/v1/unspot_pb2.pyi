from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class GetMonitoringRequest(_message.Message):
    __slots__ = ("categories",)
    CATEGORIES_FIELD_NUMBER: _ClassVar[int]
    categories: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, categories: _Optional[_Iterable[str]] = ...) -> None: ...

class Display(_message.Message):
    __slots__ = ("id", "name", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class DisplayList(_message.Message):
    __slots__ = ("items",)
    ITEMS_FIELD_NUMBER: _ClassVar[int]
    items: _containers.RepeatedCompositeFieldContainer[Display]
    def __init__(self, items: _Optional[_Iterable[_Union[Display, _Mapping]]] = ...) -> None: ...

class CalendarCounts(_message.Message):
    __slots__ = ("total", "online", "offline")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    OFFLINE_FIELD_NUMBER: _ClassVar[int]
    total: int
    online: int
    offline: int
    def __init__(self, total: _Optional[int] = ..., online: _Optional[int] = ..., offline: _Optional[int] = ...) -> None: ...

class WebhookCounts(_message.Message):
    __slots__ = ("total", "online", "failed", "disabled")
    TOTAL_FIELD_NUMBER: _ClassVar[int]
    ONLINE_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    DISABLED_FIELD_NUMBER: _ClassVar[int]
    total: int
    online: int
    failed: int
    disabled: int
    def __init__(self, total: _Optional[int] = ..., online: _Optional[int] = ..., failed: _Optional[int] = ..., disabled: _Optional[int] = ...) -> None: ...

class UserSync(_message.Message):
    __slots__ = ("last_sync_date",)
    LAST_SYNC_DATE_FIELD_NUMBER: _ClassVar[int]
    last_sync_date: str
    def __init__(self, last_sync_date: _Optional[str] = ...) -> None: ...

class QueueDepth(_message.Message):
    __slots__ = ("name", "messages")
    NAME_FIELD_NUMBER: _ClassVar[int]
    MESSAGES_FIELD_NUMBER: _ClassVar[int]
    name: str
    messages: int
    def __init__(self, name: _Optional[str] = ..., messages: _Optional[int] = ...) -> None: ...

class System(_message.Message):
    __slots__ = ("redis", "database", "filesystem", "queue")
    REDIS_FIELD_NUMBER: _ClassVar[int]
    DATABASE_FIELD_NUMBER: _ClassVar[int]
    FILESYSTEM_FIELD_NUMBER: _ClassVar[int]
    QUEUE_FIELD_NUMBER: _ClassVar[int]
    redis: str
    database: str
    filesystem: str
    queue: _containers.RepeatedCompositeFieldContainer[QueueDepth]
    def __init__(self, redis: _Optional[str] = ..., database: _Optional[str] = ..., filesystem: _Optional[str] = ..., queue: _Optional[_Iterable[_Union[QueueDepth, _Mapping]]] = ...) -> None: ...

class Monitoring(_message.Message):
    __slots__ = ("displays", "calendars", "webhooks", "user_sync", "system")
    DISPLAYS_FIELD_NUMBER: _ClassVar[int]
    CALENDARS_FIELD_NUMBER: _ClassVar[int]
    WEBHOOKS_FIELD_NUMBER: _ClassVar[int]
    USER_SYNC_FIELD_NUMBER: _ClassVar[int]
    SYSTEM_FIELD_NUMBER: _ClassVar[int]
    displays: DisplayList
    calendars: CalendarCounts
    webhooks: WebhookCounts
    user_sync: UserSync
    system: System
    def __init__(self, displays: _Optional[_Union[DisplayList, _Mapping]] = ..., calendars: _Optional[_Union[CalendarCounts, _Mapping]] = ..., webhooks: _Optional[_Union[WebhookCounts, _Mapping]] = ..., user_sync: _Optional[_Union[UserSync, _Mapping]] = ..., system: _Optional[_Union[System, _Mapping]] = ...) -> None: ...

class CreateUserRequest(_message.Message):
    __slots__ = ("role", "name")
    ROLE_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    role: str
    name: str
    def __init__(self, role: _Optional[str] = ..., name: _Optional[str] = ...) -> None: ...

class IssueTokenRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class IssuedToken(_message.Message):
    __slots__ = ("user_id", "role", "token")
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    TOKEN_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    role: str
    token: str
    def __init__(self, user_id: _Optional[str] = ..., role: _Optional[str] = ..., token: _Optional[str] = ...) -> None: ...

class DeleteUserRequest(_message.Message):
    __slots__ = ("user_id",)
    USER_ID_FIELD_NUMBER: _ClassVar[int]
    user_id: str
    def __init__(self, user_id: _Optional[str] = ...) -> None: ...

class ListUsersRequest(_message.Message):
    __slots__ = ("offset", "limit")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    offset: int
    limit: int
    def __init__(self, offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class User(_message.Message):
    __slots__ = ("id", "name", "role")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    ROLE_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    role: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., role: _Optional[str] = ...) -> None: ...

class ListUsersResponse(_message.Message):
    __slots__ = ("users", "total_count")
    USERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    users: _containers.RepeatedCompositeFieldContainer[User]
    total_count: int
    def __init__(self, users: _Optional[_Iterable[_Union[User, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class UpsertDisplayRequest(_message.Message):
    __slots__ = ("id", "name", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class UpsertCalendarRequest(_message.Message):
    __slots__ = ("id", "name", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class UpsertWebhookRequest(_message.Message):
    __slots__ = ("id", "url", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    url: str
    status: str
    def __init__(self, id: _Optional[str] = ..., url: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class Calendar(_message.Message):
    __slots__ = ("id", "name", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    status: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class Webhook(_message.Message):
    __slots__ = ("id", "url", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    url: str
    status: str
    def __init__(self, id: _Optional[str] = ..., url: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class SetStatusRequest(_message.Message):
    __slots__ = ("id", "status")
    ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    id: str
    status: str
    def __init__(self, id: _Optional[str] = ..., status: _Optional[str] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class RecordUserSyncRequest(_message.Message):
    __slots__ = ("at",)
    AT_FIELD_NUMBER: _ClassVar[int]
    at: str
    def __init__(self, at: _Optional[str] = ...) -> None: ...

class DisableUserSyncRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

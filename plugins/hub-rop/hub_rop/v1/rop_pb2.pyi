from google.protobuf import struct_pb2 as _struct_pb2
from google.protobuf.internal import containers as _containers
from google.protobuf import descriptor as _descriptor
from google.protobuf import message as _message
from collections.abc import Iterable as _Iterable, Mapping as _Mapping
from typing import ClassVar as _ClassVar, Optional as _Optional, Union as _Union

DESCRIPTOR: _descriptor.FileDescriptor

class UploadCallRequest(_message.Message):
    __slots__ = ("manager_id", "call_id", "deal_id", "deal_stage_id", "audio_url", "duration")
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_URL_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    manager_id: str
    call_id: str
    deal_id: str
    deal_stage_id: str
    audio_url: str
    duration: float
    def __init__(self, manager_id: _Optional[str] = ..., call_id: _Optional[str] = ..., deal_id: _Optional[str] = ..., deal_stage_id: _Optional[str] = ..., audio_url: _Optional[str] = ..., duration: _Optional[float] = ...) -> None: ...

class UploadCallResponse(_message.Message):
    __slots__ = ("status", "call_id")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    status: str
    call_id: str
    def __init__(self, status: _Optional[str] = ..., call_id: _Optional[str] = ...) -> None: ...

class Office(_message.Message):
    __slots__ = ("office_title", "office_id", "leader_ids", "managers_ids")
    OFFICE_TITLE_FIELD_NUMBER: _ClassVar[int]
    OFFICE_ID_FIELD_NUMBER: _ClassVar[int]
    LEADER_IDS_FIELD_NUMBER: _ClassVar[int]
    MANAGERS_IDS_FIELD_NUMBER: _ClassVar[int]
    office_title: str
    office_id: str
    leader_ids: _containers.RepeatedScalarFieldContainer[str]
    managers_ids: _containers.RepeatedScalarFieldContainer[str]
    def __init__(self, office_title: _Optional[str] = ..., office_id: _Optional[str] = ..., leader_ids: _Optional[_Iterable[str]] = ..., managers_ids: _Optional[_Iterable[str]] = ...) -> None: ...

class UpdateOfficesRequest(_message.Message):
    __slots__ = ("offices",)
    OFFICES_FIELD_NUMBER: _ClassVar[int]
    offices: _containers.RepeatedCompositeFieldContainer[Office]
    def __init__(self, offices: _Optional[_Iterable[_Union[Office, _Mapping]]] = ...) -> None: ...

class UpdateOfficesResponse(_message.Message):
    __slots__ = ("status", "offices", "leaders", "managers")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFICES_FIELD_NUMBER: _ClassVar[int]
    LEADERS_FIELD_NUMBER: _ClassVar[int]
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    status: str
    offices: int
    leaders: int
    managers: int
    def __init__(self, status: _Optional[str] = ..., offices: _Optional[int] = ..., leaders: _Optional[int] = ..., managers: _Optional[int] = ...) -> None: ...

class Manager(_message.Message):
    __slots__ = ("manager_id", "name", "surname", "middlename")
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    SURNAME_FIELD_NUMBER: _ClassVar[int]
    MIDDLENAME_FIELD_NUMBER: _ClassVar[int]
    manager_id: str
    name: str
    surname: str
    middlename: str
    def __init__(self, manager_id: _Optional[str] = ..., name: _Optional[str] = ..., surname: _Optional[str] = ..., middlename: _Optional[str] = ...) -> None: ...

class UpdateManagersRequest(_message.Message):
    __slots__ = ("managers",)
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    managers: _containers.RepeatedCompositeFieldContainer[Manager]
    def __init__(self, managers: _Optional[_Iterable[_Union[Manager, _Mapping]]] = ...) -> None: ...

class UpdateManagersResponse(_message.Message):
    __slots__ = ("status", "received", "created", "updated")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    CREATED_FIELD_NUMBER: _ClassVar[int]
    UPDATED_FIELD_NUMBER: _ClassVar[int]
    status: str
    received: int
    created: int
    updated: int
    def __init__(self, status: _Optional[str] = ..., received: _Optional[int] = ..., created: _Optional[int] = ..., updated: _Optional[int] = ...) -> None: ...

class CallReadyRequest(_message.Message):
    __slots__ = ("tab", "call")
    TAB_FIELD_NUMBER: _ClassVar[int]
    CALL_FIELD_NUMBER: _ClassVar[int]
    tab: str
    call: str
    def __init__(self, tab: _Optional[str] = ..., call: _Optional[str] = ...) -> None: ...

class CallReadyResponse(_message.Message):
    __slots__ = ("ready", "data")
    READY_FIELD_NUMBER: _ClassVar[int]
    DATA_FIELD_NUMBER: _ClassVar[int]
    ready: bool
    data: _struct_pb2.Struct
    def __init__(self, ready: _Optional[bool] = ..., data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class StageResult(_message.Message):
    __slots__ = ("stage_id", "stage_name", "score", "percentage", "status", "comment", "quote", "timestamp")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STAGE_NAME_FIELD_NUMBER: _ClassVar[int]
    SCORE_FIELD_NUMBER: _ClassVar[int]
    PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    stage_name: str
    score: int
    percentage: float
    status: str
    comment: str
    quote: str
    timestamp: str
    def __init__(self, stage_id: _Optional[str] = ..., stage_name: _Optional[str] = ..., score: _Optional[int] = ..., percentage: _Optional[float] = ..., status: _Optional[str] = ..., comment: _Optional[str] = ..., quote: _Optional[str] = ..., timestamp: _Optional[str] = ...) -> None: ...

class ChecklistResult(_message.Message):
    __slots__ = ("call_id", "manager_id", "checklist_name", "total_score", "max_score", "completion_percentage", "stages", "timestamp")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_NAME_FIELD_NUMBER: _ClassVar[int]
    TOTAL_SCORE_FIELD_NUMBER: _ClassVar[int]
    MAX_SCORE_FIELD_NUMBER: _ClassVar[int]
    COMPLETION_PERCENTAGE_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    manager_id: str
    checklist_name: str
    total_score: int
    max_score: int
    completion_percentage: float
    stages: _containers.RepeatedCompositeFieldContainer[StageResult]
    timestamp: str
    def __init__(self, call_id: _Optional[str] = ..., manager_id: _Optional[str] = ..., checklist_name: _Optional[str] = ..., total_score: _Optional[int] = ..., max_score: _Optional[int] = ..., completion_percentage: _Optional[float] = ..., stages: _Optional[_Iterable[_Union[StageResult, _Mapping]]] = ..., timestamp: _Optional[str] = ...) -> None: ...

class TableResult(_message.Message):
    __slots__ = ("call_id", "table_id", "table_name", "extracted_data", "processing_time", "timestamp")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    TABLE_NAME_FIELD_NUMBER: _ClassVar[int]
    EXTRACTED_DATA_FIELD_NUMBER: _ClassVar[int]
    PROCESSING_TIME_FIELD_NUMBER: _ClassVar[int]
    TIMESTAMP_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    table_id: str
    table_name: str
    extracted_data: _struct_pb2.Struct
    processing_time: float
    timestamp: str
    def __init__(self, call_id: _Optional[str] = ..., table_id: _Optional[str] = ..., table_name: _Optional[str] = ..., extracted_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ..., processing_time: _Optional[float] = ..., timestamp: _Optional[str] = ...) -> None: ...

class Call(_message.Message):
    __slots__ = ("call_id", "manager_id", "deal_id", "deal_stage_id", "audio_url", "declared_duration", "status", "reason", "detail", "format", "size_bytes", "duration", "created_at", "updated_at", "analyzed_at", "checklist_results", "table_results")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    MANAGER_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_ID_FIELD_NUMBER: _ClassVar[int]
    DEAL_STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    AUDIO_URL_FIELD_NUMBER: _ClassVar[int]
    DECLARED_DURATION_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    REASON_FIELD_NUMBER: _ClassVar[int]
    DETAIL_FIELD_NUMBER: _ClassVar[int]
    FORMAT_FIELD_NUMBER: _ClassVar[int]
    SIZE_BYTES_FIELD_NUMBER: _ClassVar[int]
    DURATION_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    UPDATED_AT_FIELD_NUMBER: _ClassVar[int]
    ANALYZED_AT_FIELD_NUMBER: _ClassVar[int]
    CHECKLIST_RESULTS_FIELD_NUMBER: _ClassVar[int]
    TABLE_RESULTS_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    manager_id: str
    deal_id: str
    deal_stage_id: str
    audio_url: str
    declared_duration: float
    status: str
    reason: str
    detail: str
    format: str
    size_bytes: int
    duration: float
    created_at: str
    updated_at: str
    analyzed_at: str
    checklist_results: _containers.RepeatedCompositeFieldContainer[ChecklistResult]
    table_results: _containers.RepeatedCompositeFieldContainer[TableResult]
    def __init__(self, call_id: _Optional[str] = ..., manager_id: _Optional[str] = ..., deal_id: _Optional[str] = ..., deal_stage_id: _Optional[str] = ..., audio_url: _Optional[str] = ..., declared_duration: _Optional[float] = ..., status: _Optional[str] = ..., reason: _Optional[str] = ..., detail: _Optional[str] = ..., format: _Optional[str] = ..., size_bytes: _Optional[int] = ..., duration: _Optional[float] = ..., created_at: _Optional[str] = ..., updated_at: _Optional[str] = ..., analyzed_at: _Optional[str] = ..., checklist_results: _Optional[_Iterable[_Union[ChecklistResult, _Mapping]]] = ..., table_results: _Optional[_Iterable[_Union[TableResult, _Mapping]]] = ...) -> None: ...

class ListCallsRequest(_message.Message):
    __slots__ = ("status", "offset", "limit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    status: str
    offset: int
    limit: int
    def __init__(self, status: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListCallsResponse(_message.Message):
    __slots__ = ("calls", "total_count")
    CALLS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    calls: _containers.RepeatedCompositeFieldContainer[Call]
    total_count: int
    def __init__(self, calls: _Optional[_Iterable[_Union[Call, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class GetCallRequest(_message.Message):
    __slots__ = ("call_id",)
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    def __init__(self, call_id: _Optional[str] = ...) -> None: ...

class ListOfficesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListOfficesResponse(_message.Message):
    __slots__ = ("offices",)
    OFFICES_FIELD_NUMBER: _ClassVar[int]
    offices: _containers.RepeatedCompositeFieldContainer[Office]
    def __init__(self, offices: _Optional[_Iterable[_Union[Office, _Mapping]]] = ...) -> None: ...

class ListManagersRequest(_message.Message):
    __slots__ = ("offset", "limit")
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    offset: int
    limit: int
    def __init__(self, offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListManagersResponse(_message.Message):
    __slots__ = ("managers", "total_count")
    MANAGERS_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    managers: _containers.RepeatedCompositeFieldContainer[Manager]
    total_count: int
    def __init__(self, managers: _Optional[_Iterable[_Union[Manager, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class Stage(_message.Message):
    __slots__ = ("id", "name", "criteria")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    CRITERIA_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    criteria: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., criteria: _Optional[str] = ...) -> None: ...

class Checklist(_message.Message):
    __slots__ = ("id", "name", "stages", "webhook_url", "webhook_secret")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    stages: _containers.RepeatedCompositeFieldContainer[Stage]
    webhook_url: str
    webhook_secret: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[Stage, _Mapping]]] = ..., webhook_url: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class ListChecklistsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListChecklistsResponse(_message.Message):
    __slots__ = ("checklists",)
    CHECKLISTS_FIELD_NUMBER: _ClassVar[int]
    checklists: _containers.RepeatedCompositeFieldContainer[Checklist]
    def __init__(self, checklists: _Optional[_Iterable[_Union[Checklist, _Mapping]]] = ...) -> None: ...

class TableField(_message.Message):
    __slots__ = ("name", "description")
    NAME_FIELD_NUMBER: _ClassVar[int]
    DESCRIPTION_FIELD_NUMBER: _ClassVar[int]
    name: str
    description: str
    def __init__(self, name: _Optional[str] = ..., description: _Optional[str] = ...) -> None: ...

class Table(_message.Message):
    __slots__ = ("id", "name", "fields", "webhook_url", "webhook_secret")
    ID_FIELD_NUMBER: _ClassVar[int]
    NAME_FIELD_NUMBER: _ClassVar[int]
    FIELDS_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_URL_FIELD_NUMBER: _ClassVar[int]
    WEBHOOK_SECRET_FIELD_NUMBER: _ClassVar[int]
    id: str
    name: str
    fields: _containers.RepeatedCompositeFieldContainer[TableField]
    webhook_url: str
    webhook_secret: str
    def __init__(self, id: _Optional[str] = ..., name: _Optional[str] = ..., fields: _Optional[_Iterable[_Union[TableField, _Mapping]]] = ..., webhook_url: _Optional[str] = ..., webhook_secret: _Optional[str] = ...) -> None: ...

class ListTablesRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListTablesResponse(_message.Message):
    __slots__ = ("tables",)
    TABLES_FIELD_NUMBER: _ClassVar[int]
    tables: _containers.RepeatedCompositeFieldContainer[Table]
    def __init__(self, tables: _Optional[_Iterable[_Union[Table, _Mapping]]] = ...) -> None: ...

class DeleteRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class DeleteResponse(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class StageAnswer(_message.Message):
    __slots__ = ("stage_id", "status", "comment", "quote")
    STAGE_ID_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    COMMENT_FIELD_NUMBER: _ClassVar[int]
    QUOTE_FIELD_NUMBER: _ClassVar[int]
    stage_id: str
    status: str
    comment: str
    quote: str
    def __init__(self, stage_id: _Optional[str] = ..., status: _Optional[str] = ..., comment: _Optional[str] = ..., quote: _Optional[str] = ...) -> None: ...

class ChecklistAnswer(_message.Message):
    __slots__ = ("checklist_id", "stages")
    CHECKLIST_ID_FIELD_NUMBER: _ClassVar[int]
    STAGES_FIELD_NUMBER: _ClassVar[int]
    checklist_id: str
    stages: _containers.RepeatedCompositeFieldContainer[StageAnswer]
    def __init__(self, checklist_id: _Optional[str] = ..., stages: _Optional[_Iterable[_Union[StageAnswer, _Mapping]]] = ...) -> None: ...

class TableAnswer(_message.Message):
    __slots__ = ("table_id", "extracted_data")
    TABLE_ID_FIELD_NUMBER: _ClassVar[int]
    EXTRACTED_DATA_FIELD_NUMBER: _ClassVar[int]
    table_id: str
    extracted_data: _struct_pb2.Struct
    def __init__(self, table_id: _Optional[str] = ..., extracted_data: _Optional[_Union[_struct_pb2.Struct, _Mapping]] = ...) -> None: ...

class Analysis(_message.Message):
    __slots__ = ("call_id", "checklists", "tables")
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    CHECKLISTS_FIELD_NUMBER: _ClassVar[int]
    TABLES_FIELD_NUMBER: _ClassVar[int]
    call_id: str
    checklists: _containers.RepeatedCompositeFieldContainer[ChecklistAnswer]
    tables: _containers.RepeatedCompositeFieldContainer[TableAnswer]
    def __init__(self, call_id: _Optional[str] = ..., checklists: _Optional[_Iterable[_Union[ChecklistAnswer, _Mapping]]] = ..., tables: _Optional[_Iterable[_Union[TableAnswer, _Mapping]]] = ...) -> None: ...

class WebhookDelivery(_message.Message):
    __slots__ = ("id", "event", "call_id", "target_kind", "target_id", "url", "status", "attempts", "next_attempt_at", "last_status", "last_error", "created_at", "delivered_at", "dead_at")
    ID_FIELD_NUMBER: _ClassVar[int]
    EVENT_FIELD_NUMBER: _ClassVar[int]
    CALL_ID_FIELD_NUMBER: _ClassVar[int]
    TARGET_KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    STATUS_FIELD_NUMBER: _ClassVar[int]
    ATTEMPTS_FIELD_NUMBER: _ClassVar[int]
    NEXT_ATTEMPT_AT_FIELD_NUMBER: _ClassVar[int]
    LAST_STATUS_FIELD_NUMBER: _ClassVar[int]
    LAST_ERROR_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_AT_FIELD_NUMBER: _ClassVar[int]
    DEAD_AT_FIELD_NUMBER: _ClassVar[int]
    id: str
    event: str
    call_id: str
    target_kind: str
    target_id: str
    url: str
    status: str
    attempts: int
    next_attempt_at: str
    last_status: int
    last_error: str
    created_at: str
    delivered_at: str
    dead_at: str
    def __init__(self, id: _Optional[str] = ..., event: _Optional[str] = ..., call_id: _Optional[str] = ..., target_kind: _Optional[str] = ..., target_id: _Optional[str] = ..., url: _Optional[str] = ..., status: _Optional[str] = ..., attempts: _Optional[int] = ..., next_attempt_at: _Optional[str] = ..., last_status: _Optional[int] = ..., last_error: _Optional[str] = ..., created_at: _Optional[str] = ..., delivered_at: _Optional[str] = ..., dead_at: _Optional[str] = ...) -> None: ...

class ListWebhookDeliveriesRequest(_message.Message):
    __slots__ = ("status", "offset", "limit")
    STATUS_FIELD_NUMBER: _ClassVar[int]
    OFFSET_FIELD_NUMBER: _ClassVar[int]
    LIMIT_FIELD_NUMBER: _ClassVar[int]
    status: str
    offset: int
    limit: int
    def __init__(self, status: _Optional[str] = ..., offset: _Optional[int] = ..., limit: _Optional[int] = ...) -> None: ...

class ListWebhookDeliveriesResponse(_message.Message):
    __slots__ = ("deliveries", "total_count")
    DELIVERIES_FIELD_NUMBER: _ClassVar[int]
    TOTAL_COUNT_FIELD_NUMBER: _ClassVar[int]
    deliveries: _containers.RepeatedCompositeFieldContainer[WebhookDelivery]
    total_count: int
    def __init__(self, deliveries: _Optional[_Iterable[_Union[WebhookDelivery, _Mapping]]] = ..., total_count: _Optional[int] = ...) -> None: ...

class RedeliverWebhookRequest(_message.Message):
    __slots__ = ("id",)
    ID_FIELD_NUMBER: _ClassVar[int]
    id: str
    def __init__(self, id: _Optional[str] = ...) -> None: ...

class WebhookCountsRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class WebhookCountsResponse(_message.Message):
    __slots__ = ("pending", "failed", "dead", "delivered")
    PENDING_FIELD_NUMBER: _ClassVar[int]
    FAILED_FIELD_NUMBER: _ClassVar[int]
    DEAD_FIELD_NUMBER: _ClassVar[int]
    DELIVERED_FIELD_NUMBER: _ClassVar[int]
    pending: int
    failed: int
    dead: int
    delivered: int
    def __init__(self, pending: _Optional[int] = ..., failed: _Optional[int] = ..., dead: _Optional[int] = ..., delivered: _Optional[int] = ...) -> None: ...

class WatchCallAnalyzedRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ReceiverRequest(_message.Message):
    __slots__ = ("kind", "id")
    KIND_FIELD_NUMBER: _ClassVar[int]
    ID_FIELD_NUMBER: _ClassVar[int]
    kind: str
    id: str
    def __init__(self, kind: _Optional[str] = ..., id: _Optional[str] = ...) -> None: ...

class Receiver(_message.Message):
    __slots__ = ("kind", "target_id", "created_at", "received", "last_received_at", "path", "url")
    KIND_FIELD_NUMBER: _ClassVar[int]
    TARGET_ID_FIELD_NUMBER: _ClassVar[int]
    CREATED_AT_FIELD_NUMBER: _ClassVar[int]
    RECEIVED_FIELD_NUMBER: _ClassVar[int]
    LAST_RECEIVED_AT_FIELD_NUMBER: _ClassVar[int]
    PATH_FIELD_NUMBER: _ClassVar[int]
    URL_FIELD_NUMBER: _ClassVar[int]
    kind: str
    target_id: str
    created_at: str
    received: int
    last_received_at: str
    path: str
    url: str
    def __init__(self, kind: _Optional[str] = ..., target_id: _Optional[str] = ..., created_at: _Optional[str] = ..., received: _Optional[int] = ..., last_received_at: _Optional[str] = ..., path: _Optional[str] = ..., url: _Optional[str] = ...) -> None: ...

class ListReceiversRequest(_message.Message):
    __slots__ = ()
    def __init__(self) -> None: ...

class ListReceiversResponse(_message.Message):
    __slots__ = ("receivers",)
    RECEIVERS_FIELD_NUMBER: _ClassVar[int]
    receivers: _containers.RepeatedCompositeFieldContainer[Receiver]
    def __init__(self, receivers: _Optional[_Iterable[_Union[Receiver, _Mapping]]] = ...) -> None: ...

"""What :class:`~hub_rop.service.RopService` returns: typed records that each adapter renders
through ``hub.records`` (REST and webhook bodies with ``to_json``, GraphQL with ``to_graphql``,
gRPC with ``to_message``). Instants are aware datetimes, written as the seed writes them: UTC to
the second, ``2025-08-22T11:49:25Z``."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from hub.records import parse_iso8601, spec

OMITTED = spec(omit_none=True)


# -- results: the seed's documents, in the seed's field order (webhook bodies) -----------------
@dataclass(frozen=True)
class StageResult:
    stage_id: str
    stage_name: str
    score: int  # 1 completed, -1 failed
    percentage: float  # 100.0 or 0.0
    status: str  # completed | failed
    comment: str
    quote: str
    timestamp: datetime


@dataclass(frozen=True)
class ChecklistResult:
    call_id: str
    manager_id: str
    checklist_name: str
    total_score: int
    max_score: int
    completion_percentage: float
    stages: tuple[StageResult, ...]
    timestamp: datetime

    @classmethod
    def of(cls, stored: dict[str, Any]) -> ChecklistResult:
        """A result as stored (its JSON document, decoded)."""
        stages = tuple(
            StageResult(**{**s, "timestamp": parse_iso8601(s["timestamp"])})
            for s in stored["stages"]
        )
        return cls(**{**stored, "stages": stages, "timestamp": parse_iso8601(stored["timestamp"])})


@dataclass(frozen=True)
class TableResult:
    call_id: str
    table_id: str
    table_name: str
    extracted_data: dict[str, Any]
    processing_time: float  # seconds from upload to result
    timestamp: datetime

    @classmethod
    def of(cls, stored: dict[str, Any]) -> TableResult:
        return cls(**{**stored, "timestamp": parse_iso8601(stored["timestamp"])})


# -- calls ---------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Call:
    call_id: str
    manager_id: str
    deal_id: str
    deal_stage_id: str
    audio_url: str
    declared_duration: float | None  # what the upload said
    status: str  # downloading | awaiting_analysis | analyzed | rejected
    reason: str | None  # why an accepted call was rejected
    detail: str | None
    format: str | None
    size_bytes: int | None
    duration: float | None  # seconds, as read from the file
    created_at: datetime
    updated_at: datetime
    analyzed_at: datetime | None
    checklist_results: tuple[ChecklistResult, ...] = ()
    table_results: tuple[TableResult, ...] = ()


@dataclass(frozen=True)
class CallReady:
    """REST leaves ``data`` out until the table's result exists."""

    ready: bool
    data: dict[str, Any] | None = field(default=None, metadata=OMITTED)


# -- the CRM's structure -------------------------------------------------------------------------
@dataclass(frozen=True)
class Office:
    office_id: str
    office_title: str
    leader_ids: tuple[str, ...]
    managers_ids: tuple[str, ...]


@dataclass(frozen=True)
class Manager:
    manager_id: str
    name: str
    surname: str
    middlename: str


# -- checklists and analytic tables (their webhook secrets never leave the hub) ------------------
@dataclass(frozen=True)
class Stage:
    id: str
    name: str
    criteria: str


@dataclass(frozen=True)
class Checklist:
    id: str
    name: str
    stages: tuple[Stage, ...]
    webhook_url: str | None


@dataclass(frozen=True)
class TableField:
    name: str
    description: str


@dataclass(frozen=True)
class Table:
    id: str
    name: str
    fields: tuple[TableField, ...]
    webhook_url: str | None


# -- webhooks ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class WebhookDelivery:
    id: str
    event: str  # checklist.result | table.result
    call_id: str
    target_kind: str  # checklist | table
    target_id: str
    url: str
    status: str  # pending | failed (will retry) | dead | delivered
    attempts: int
    next_attempt_at: datetime | None  # only while pending or failed
    last_status: int | None
    last_error: str | None
    created_at: datetime
    delivered_at: datetime | None
    dead_at: datetime | None


@dataclass(frozen=True)
class WebhookCounts:
    pending: int
    failed: int
    dead: int
    delivered: int


# -- answers of the CRM methods (REST writes the fields in this order) ------------------------
@dataclass(frozen=True)
class Queued:
    status: str  # "queued"
    call_id: str


@dataclass(frozen=True)
class OfficesUpdate:
    status: str  # "ok"
    offices: int
    leaders: int
    managers: int


@dataclass(frozen=True)
class ManagersUpdate:
    status: str  # "ok"
    received: int
    created: int
    updated: int


# -- upstream mode: where ROP posts its results --------------------------------------------------
@dataclass(frozen=True)
class Receiver:
    """One checklist's or table's receiver; ``path`` and ``url`` carry its secret token and are
    given only in the answer that makes it."""

    kind: str  # checklist | table
    target_id: str  # ROP's id of the checklist or table
    created_at: datetime
    received: int  # results stored (a repeat of a stored result is not counted)
    last_received_at: datetime | None
    path: str | None = None
    url: str | None = None


@dataclass(frozen=True)
class Received:
    """A receiver's answer to ROP: ``stored``, or ``duplicate`` for a result it holds already."""

    status: str
    call_id: str

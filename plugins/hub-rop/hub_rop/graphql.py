"""rop in the hub's GraphQL schema: ``{ rop { ... } }``, the ``rop*`` mutations and the
``ropCallAnalyzed`` subscription."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any, TypeVar

import strawberry

from hub.graphql.context import plugin_resolvers
from hub.graphql.stored import stored_objects
from hub.graphql.types import JSON, Connection, connection, page_window
from hub.paging import Page
from hub.records import sent_fields, to_graphql
from hub_rop.definitions import CHECKLISTS, TABLES
from hub_rop.errors import PLUGIN, bad_request
from hub_rop.service import RopService
from hub_rop.storage import Listing

T = TypeVar("T")


_service, _caller = plugin_resolvers(PLUGIN, RopService)


def _connection(cls: type[T], listing: Listing[Any], page: Page) -> Connection[T]:
    """A list read in creation order, with keyset cursors. Its stored rows go to GraphQL as
    they are: each is rendered once per selection and its rendering reused while the row is
    unchanged (``hub.graphql.stored``), found by the row's seq."""
    nodes = stored_objects(cls, listing.rows, listing.record, listing.ids)
    return connection(nodes, listing.total, page, listing.cursors, listing.has_next)


@strawberry.type(name="RopStageResult")
class StageResult:
    stage_id: str
    stage_name: str
    score: int
    percentage: float
    status: str
    comment: str
    quote: str
    timestamp: str


@strawberry.type(name="RopChecklistResult")
class ChecklistResult:
    call_id: str
    manager_id: str
    checklist_name: str
    total_score: int
    max_score: int
    completion_percentage: float
    stages: list[StageResult]
    timestamp: str


@strawberry.type(name="RopTableResult")
class TableResult:
    call_id: str
    table_id: str
    table_name: str
    extracted_data: JSON
    processing_time: float
    timestamp: str


@strawberry.type(name="RopCall")
class Call:
    call_id: str
    manager_id: str
    deal_id: str
    deal_stage_id: str
    audio_url: str
    declared_duration: float | None
    status: str = strawberry.field(description="downloading, awaiting_analysis, analyzed, rejected")
    reason: str | None = strawberry.field(
        description="Why an accepted call was rejected: not_audio, download_failed,"
        " too_large, too_long, unreadable"
    )
    detail: str | None
    format: str | None
    size_bytes: int | None
    duration: float | None = strawberry.field(description="Seconds, as read from the file.")
    created_at: str
    updated_at: str
    analyzed_at: str | None
    checklist_results: list[ChecklistResult]
    table_results: list[TableResult]


@strawberry.type(name="RopOffice")
class Office:
    office_id: str
    office_title: str
    leader_ids: list[str]
    managers_ids: list[str]


@strawberry.type(name="RopManager")
class Manager:
    manager_id: str
    name: str
    surname: str
    middlename: str


@strawberry.type(name="RopStage")
class Stage:
    id: str
    name: str
    criteria: str


@strawberry.type(name="RopChecklist")
class Checklist:
    id: str
    name: str
    stages: list[Stage]
    webhook_url: str | None


@strawberry.type(name="RopTableField")
class TableField:
    name: str
    description: str


@strawberry.type(name="RopTable")
class Table:
    id: str
    name: str
    fields: list[TableField]
    webhook_url: str | None


@strawberry.type(name="RopCallReady")
class CallReady:
    ready: bool
    data: JSON | None


@strawberry.type(name="RopWebhookDelivery")
class WebhookDelivery:
    id: str
    event: str
    call_id: str
    target_kind: str
    target_id: str
    url: str
    status: str = strawberry.field(description="pending, failed (will retry), dead, delivered")
    attempts: int
    next_attempt_at: str | None
    last_status: int | None
    last_error: str | None
    created_at: str
    delivered_at: str | None
    dead_at: str | None


@strawberry.type(name="RopWebhookCounts")
class WebhookCounts:
    pending: int
    failed: int
    dead: int
    delivered: int


@strawberry.type(
    name="RopReceiver",
    description="Upstream mode: where ROP posts one checklist's or table's results.",
)
class Receiver:
    kind: str = strawberry.field(description="checklist or table")
    target_id: str = strawberry.field(description="ROP's id of the checklist or table")
    created_at: str
    received: int = strawberry.field(description="Results stored (a repeat is not counted).")
    last_received_at: str | None
    path: str | None = strawberry.field(
        description="Only in ropCreateReceiver's answer: the path with the secret token."
    )
    url: str | None = strawberry.field(
        description="Only in ropCreateReceiver's answer: public_url and the path, the URL to"
        " set in ROP's settings of the checklist or table (null without public_url)."
    )


@strawberry.type(name="RopUploadResult")
class UploadResult:
    status: str
    call_id: str


@strawberry.type(name="RopOfficesUpdate")
class OfficesUpdate:
    status: str
    offices: int
    leaders: int
    managers: int


@strawberry.type(name="RopManagersUpdate")
class ManagersUpdate:
    status: str
    received: int
    created: int
    updated: int


# -- inputs: field names as in REST bodies, so the service checks one shape ----------------
@strawberry.input(name="RopUploadInput")
class UploadInput:
    manager_id: str | None = strawberry.UNSET
    call_id: str | None = strawberry.UNSET
    deal_id: str | None = strawberry.UNSET
    deal_stage_id: str | None = strawberry.UNSET
    audio_url: str | None = strawberry.UNSET
    duration: float | None = strawberry.UNSET


@strawberry.input(name="RopOfficeInput")
class OfficeInput:
    office_title: str | None = strawberry.UNSET
    office_id: str | None = strawberry.UNSET
    leader_ids: list[str] | None = strawberry.UNSET
    managers_ids: list[str] | None = strawberry.UNSET


@strawberry.input(name="RopManagerInput")
class ManagerInput:
    manager_id: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    surname: str | None = strawberry.UNSET
    middlename: str | None = strawberry.UNSET


@strawberry.input(name="RopStageInput")
class StageInput:
    id: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    criteria: str | None = strawberry.UNSET


@strawberry.input(
    name="RopChecklistInput",
    description="No id: a new checklist (CHK_<unix time>). A known id: replaced."
    " webhookSecret left out keeps the stored one.",
)
class ChecklistInput:
    id: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    stages: list[StageInput] | None = strawberry.UNSET
    webhook_url: str | None = strawberry.UNSET
    webhook_secret: str | None = strawberry.UNSET


@strawberry.input(name="RopTableFieldInput")
class TableFieldInput:
    name: str | None = strawberry.UNSET
    description: str | None = strawberry.UNSET


@strawberry.input(
    name="RopTableInput",
    description="No id: a new table (TBL_<unix time>). A known id: replaced."
    " webhookSecret left out keeps the stored one.",
)
class TableInput:
    id: str | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    fields: list[TableFieldInput] | None = strawberry.UNSET
    webhook_url: str | None = strawberry.UNSET
    webhook_secret: str | None = strawberry.UNSET


@strawberry.input(name="RopStageAnswerInput")
class StageAnswerInput:
    stage_id: str | None = strawberry.UNSET
    status: str | None = strawberry.field(
        default=strawberry.UNSET, description="completed or failed"
    )
    comment: str | None = strawberry.UNSET
    quote: str | None = strawberry.UNSET


@strawberry.input(name="RopChecklistAnswerInput")
class ChecklistAnswerInput:
    checklist_id: str | None = strawberry.UNSET
    stages: list[StageAnswerInput] | None = strawberry.UNSET


@strawberry.input(name="RopTableAnswerInput")
class TableAnswerInput:
    table_id: str | None = strawberry.UNSET
    extracted_data: JSON | None = strawberry.UNSET


@strawberry.input(
    name="RopAnalysisInput",
    description="Stage statuses only: scores and percentages are computed by the hub.",
)
class AnalysisInput:
    call_id: str | None = strawberry.UNSET
    checklists: list[ChecklistAnswerInput] | None = strawberry.UNSET
    tables: list[TableAnswerInput] | None = strawberry.UNSET


@strawberry.type(name="RopQuery")
class RopQuery:
    @strawberry.field(description="Calls in upload order; `status` filters.")
    def calls(
        self,
        info: strawberry.Info,
        first: int | None = None,
        after: str | None = None,
        status: str | None = None,
    ) -> Connection[Call]:
        page = page_window(first, after, bad_request, seekable=True)
        return _connection(Call, _service(info).list_calls(_caller(info), status, page), page)

    @strawberry.field
    def call(self, info: strawberry.Info, call_id: str) -> Call:
        return to_graphql(Call, _service(info).call(_caller(info), call_id))

    @strawberry.field
    def offices(self, info: strawberry.Info) -> list[Office]:
        return [to_graphql(Office, o) for o in _service(info).offices(_caller(info))]

    @strawberry.field
    def managers(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[Manager]:
        page = page_window(first, after, bad_request, seekable=True)
        return _connection(Manager, _service(info).managers(_caller(info), page), page)

    @strawberry.field
    def checklists(self, info: strawberry.Info) -> list[Checklist]:
        return [
            to_graphql(Checklist, c)
            for c in _service(info).definitions_of(_caller(info), CHECKLISTS)
        ]

    @strawberry.field
    def tables(self, info: strawberry.Info) -> list[Table]:
        return [to_graphql(Table, t) for t in _service(info).definitions_of(_caller(info), TABLES)]

    @strawberry.field(description="REST's call-ready: the table's result for the call, if made.")
    async def call_ready(self, info: strawberry.Info, tab: str, call: str) -> CallReady:
        return to_graphql(CallReady, await _service(info).call_ready(_caller(info), tab, call))

    @strawberry.field(description="Admin only, upstream mode: where ROP posts its results.")
    def receivers(self, info: strawberry.Info) -> list[Receiver]:
        return [to_graphql(Receiver, r) for r in _service(info).receivers_of(_caller(info))]

    @strawberry.field(description="Admin only: the webhook outbox; `status` filters.")
    def webhook_deliveries(
        self,
        info: strawberry.Info,
        status: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[WebhookDelivery]:
        page = page_window(first, after, bad_request, seekable=True)
        listing = _service(info).deliveries(_caller(info), status, page)
        return _connection(WebhookDelivery, listing, page)

    @strawberry.field
    def webhook_counts(self, info: strawberry.Info) -> WebhookCounts:
        return to_graphql(WebhookCounts, _service(info).delivery_counts(_caller(info)))


@strawberry.type(name="RopMutation")
class RopMutation:
    @strawberry.mutation(description="REST's audio-upload.")
    async def rop_upload_call(self, info: strawberry.Info, input: UploadInput) -> UploadResult:
        queued = await _service(info).upload(_caller(info), sent_fields(input))
        return to_graphql(UploadResult, queued)

    @strawberry.mutation(description="REST's offices-update: replaces the office structure.")
    async def rop_update_offices(
        self, info: strawberry.Info, offices: list[OfficeInput]
    ) -> OfficesUpdate:
        data = {"offices": [sent_fields(o) for o in offices]}
        return to_graphql(OfficesUpdate, await _service(info).update_offices(_caller(info), data))

    @strawberry.mutation(description="REST's managers-update: upserts managers.")
    async def rop_update_managers(
        self, info: strawberry.Info, managers: list[ManagerInput]
    ) -> ManagersUpdate:
        data = {"managers": [sent_fields(m) for m in managers]}
        update = await _service(info).update_managers(_caller(info), data)
        return to_graphql(ManagersUpdate, update)

    @strawberry.mutation(description="Admin only: create or replace a checklist.")
    def rop_put_checklist(self, info: strawberry.Info, input: ChecklistInput) -> Checklist:
        made = _service(info).put_definition(_caller(info), CHECKLISTS, sent_fields(input))
        return to_graphql(Checklist, made)

    @strawberry.mutation(description="Admin only; returns the id.")
    def rop_delete_checklist(self, info: strawberry.Info, id: str) -> str:
        return _service(info).delete_definition(_caller(info), CHECKLISTS, id)

    @strawberry.mutation(description="Admin only: create or replace an analytic table.")
    def rop_put_table(self, info: strawberry.Info, input: TableInput) -> Table:
        return to_graphql(
            Table, _service(info).put_definition(_caller(info), TABLES, sent_fields(input))
        )

    @strawberry.mutation(description="Admin only; returns the id.")
    def rop_delete_table(self, info: strawberry.Info, id: str) -> str:
        return _service(info).delete_definition(_caller(info), TABLES, id)

    @strawberry.mutation(description="An analyser key or the admin token: store a result.")
    def rop_submit_analysis(self, info: strawberry.Info, input: AnalysisInput) -> Call:
        analyzed = _service(info).submit_analysis(_caller(info), sent_fields(input))
        return to_graphql(Call, analyzed)

    @strawberry.mutation(
        description="Admin only, upstream mode: the receiver of ROP's checklist or table `id`"
        " (kind: checklist or table), with the URL to set in ROP. Made again, it gets a new"
        " token and the old URL stops working."
    )
    def rop_create_receiver(self, info: strawberry.Info, kind: str, id: str) -> Receiver:
        return to_graphql(Receiver, _service(info).create_receiver(_caller(info), kind, id))

    @strawberry.mutation(description="Admin only; returns the id.")
    def rop_delete_receiver(self, info: strawberry.Info, kind: str, id: str) -> str:
        return _service(info).delete_receiver(_caller(info), kind, id)

    @strawberry.mutation(description="Admin only: send a dead delivery again.")
    def rop_redeliver_webhook(self, info: strawberry.Info, id: str) -> WebhookDelivery:
        return to_graphql(WebhookDelivery, _service(info).redeliver(_caller(info), id))


@strawberry.type(name="RopSubscription")
class RopSubscription:
    @strawberry.subscription(description="Each call as its analysis is stored.")
    async def rop_call_analyzed(self, info: strawberry.Info) -> AsyncIterator[Call]:
        async for call in _service(info).analyzed(_caller(info)):
            yield to_graphql(Call, call)

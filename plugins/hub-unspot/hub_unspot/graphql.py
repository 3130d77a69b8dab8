"""UnSpot in the hub's GraphQL schema: ``{ unspot { monitoring { ... } users } }``, the
``unspot*`` admin mutations and ``unspotDisplayStatusChanged``. Values are exactly REST's."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import strawberry

from hub.graphql.context import plugin_resolvers
from hub.graphql.stored import stored_objects
from hub.graphql.types import Connection, connection, page_window
from hub.records import sent_fields, to_graphql
from hub_unspot.errors import bad_request
from hub_unspot.monitoring import CATEGORIES
from hub_unspot.records import Entity
from hub_unspot.service import CALENDARS, DISPLAYS, WEBHOOKS, UnspotService
from hub_unspot.settings import PLUGIN
from hub_unspot.storage import Kind


@strawberry.type(name="UnspotDisplay")
class Display:
    id: strawberry.ID
    name: str
    status: str = strawberry.field(description="online | offline")


@strawberry.type(name="UnspotCalendar")
class Calendar:
    id: strawberry.ID
    name: str
    status: str = strawberry.field(description="online | offline")


@strawberry.type(name="UnspotWebhook")
class Webhook:
    id: strawberry.ID
    url: str
    status: str = strawberry.field(description="online | failed | disabled")


@strawberry.type(name="UnspotCalendarCounts")
class CalendarCounts:
    total: int
    online: int
    offline: int


@strawberry.type(name="UnspotWebhookCounts")
class WebhookCounts:
    total: int
    online: int
    failed: int
    disabled: int


@strawberry.type(name="UnspotUserSync")
class UserSync:
    last_sync_date: str | None = strawberry.field(
        description="2026-02-04T11:41:39+00:00; null when user sync is disabled or never ran."
    )


@strawberry.type(name="UnspotQueue")
class Queue:
    name: str
    messages: int


@strawberry.type(name="UnspotSystem")
class System:
    redis: str = strawberry.field(description="online | offline | not_configured")
    database: str
    filesystem: str
    queue: list[Queue]


_service, _caller = plugin_resolvers(PLUGIN, UnspotService)


async def _category(info: strawberry.Info, name: str) -> Any:
    monitoring = await _service(info).monitoring(_caller(info), [name])
    return getattr(monitoring, CATEGORIES[name])


@strawberry.type(name="UnspotMonitoring", description="REST's categories; not rate-limited.")
class Monitoring:
    @strawberry.field
    async def displays(self, info: strawberry.Info) -> list[Display]:
        return [to_graphql(Display, d) for d in await _category(info, "displays")]

    @strawberry.field
    async def calendars(self, info: strawberry.Info) -> CalendarCounts:
        return to_graphql(CalendarCounts, await _category(info, "calendars"))

    @strawberry.field
    async def webhooks(self, info: strawberry.Info) -> WebhookCounts:
        return to_graphql(WebhookCounts, await _category(info, "webhooks"))

    @strawberry.field
    async def user_sync(self, info: strawberry.Info) -> UserSync:
        return to_graphql(UserSync, await _category(info, "user-sync"))

    @strawberry.field(description="On-premise only: an UNAUTHENTICATED error otherwise, as REST.")
    async def system(self, info: strawberry.Info) -> System | None:
        return to_graphql(System, await _category(info, "system"))


@strawberry.type(name="UnspotUser")
class User:
    id: strawberry.ID
    name: str
    role: str


@strawberry.type(name="UnspotIssuedToken", description="Shown once; replaces the old token.")
class IssuedToken:
    user_id: strawberry.ID
    role: str
    token: str


@strawberry.type(name="UnspotQuery")
class UnspotQuery:
    @strawberry.field(description="A user token whose role may read, or the admin token.")
    def monitoring(self, info: strawberry.Info) -> Monitoring:
        _service(info).authorize(_caller(info))
        return Monitoring()

    @strawberry.field(description="Admin only.")
    def users(
        self, info: strawberry.Info, first: int | None = None, after: str | None = None
    ) -> Connection[User]:
        page = page_window(first, after, bad_request, seekable=True)
        users = _service(info).list_users(_caller(info), page)
        nodes = stored_objects(User, users.users, ids=[user.id for user in users.users])
        return connection(nodes, users.total, page, users.cursors, users.has_next)


@strawberry.input(name="UnspotDisplayInput", description="Leave out id to create a display.")
class DisplayInput:
    id: strawberry.ID | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    status: str | None = strawberry.UNSET


@strawberry.input(name="UnspotCalendarInput", description="Leave out id to create a calendar.")
class CalendarInput:
    id: strawberry.ID | None = strawberry.UNSET
    name: str | None = strawberry.UNSET
    status: str | None = strawberry.UNSET


@strawberry.input(name="UnspotWebhookInput", description="Leave out id to create a webhook.")
class WebhookInput:
    id: strawberry.ID | None = strawberry.UNSET
    url: str | None = strawberry.UNSET
    status: str | None = strawberry.UNSET


def _upsert(info: strawberry.Info, kind: Kind, value: Any) -> Entity:
    return _service(info).upsert(_caller(info), kind, sent_fields(value))


def _set_status(info: strawberry.Info, kind: Kind, id: str, status: str) -> Entity:
    return _service(info).set_status(_caller(info), kind, id, status)


def _delete(info: strawberry.Info, kind: Kind, id: str) -> strawberry.ID:
    return strawberry.ID(_service(info).delete(_caller(info), kind, id))


@strawberry.type(name="UnspotMutation", description="Admin token only.")
class UnspotMutation:
    @strawberry.mutation
    def unspot_create_user(self, info: strawberry.Info, role: str, name: str = "") -> IssuedToken:
        issued = _service(info).create_user(_caller(info), role, name)
        return to_graphql(IssuedToken, issued)

    @strawberry.mutation
    def unspot_issue_token(self, info: strawberry.Info, user_id: strawberry.ID) -> IssuedToken:
        issued = _service(info).issue_token(_caller(info), user_id)
        return to_graphql(IssuedToken, issued)

    @strawberry.mutation
    def unspot_delete_user(self, info: strawberry.Info, user_id: strawberry.ID) -> strawberry.ID:
        return strawberry.ID(_service(info).delete_user(_caller(info), user_id))

    @strawberry.mutation
    def unspot_upsert_display(self, info: strawberry.Info, input: DisplayInput) -> Display:
        return to_graphql(Display, _upsert(info, DISPLAYS, input))

    @strawberry.mutation
    def unspot_set_display_status(
        self, info: strawberry.Info, id: strawberry.ID, status: str
    ) -> Display:
        return to_graphql(Display, _set_status(info, DISPLAYS, id, status))

    @strawberry.mutation
    def unspot_delete_display(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        return _delete(info, DISPLAYS, id)

    @strawberry.mutation
    def unspot_upsert_calendar(self, info: strawberry.Info, input: CalendarInput) -> Calendar:
        return to_graphql(Calendar, _upsert(info, CALENDARS, input))

    @strawberry.mutation
    def unspot_set_calendar_status(
        self, info: strawberry.Info, id: strawberry.ID, status: str
    ) -> Calendar:
        return to_graphql(Calendar, _set_status(info, CALENDARS, id, status))

    @strawberry.mutation
    def unspot_delete_calendar(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        return _delete(info, CALENDARS, id)

    @strawberry.mutation
    def unspot_upsert_webhook(self, info: strawberry.Info, input: WebhookInput) -> Webhook:
        return to_graphql(Webhook, _upsert(info, WEBHOOKS, input))

    @strawberry.mutation
    def unspot_set_webhook_status(
        self, info: strawberry.Info, id: strawberry.ID, status: str
    ) -> Webhook:
        return to_graphql(Webhook, _set_status(info, WEBHOOKS, id, status))

    @strawberry.mutation
    def unspot_delete_webhook(self, info: strawberry.Info, id: strawberry.ID) -> strawberry.ID:
        return _delete(info, WEBHOOKS, id)

    @strawberry.mutation(description="A finished user sync at `at` (default now); enables sync.")
    def unspot_record_user_sync(self, info: strawberry.Info, at: str | None = None) -> UserSync:
        return to_graphql(UserSync, _service(info).record_user_sync(_caller(info), at))

    @strawberry.mutation(description="lastSyncDate reads null until the next recorded sync.")
    def unspot_disable_user_sync(self, info: strawberry.Info) -> UserSync:
        return to_graphql(UserSync, _service(info).disable_user_sync(_caller(info)))


@strawberry.type(name="UnspotDisplayStatusChange")
class DisplayStatusChange:
    id: strawberry.ID
    name: str
    status: str
    previous_status: str | None = strawberry.field(description="null: the display is new.")


@strawberry.type(name="UnspotSubscription")
class UnspotSubscription:
    @strawberry.subscription(description="Each display whose status changes, or that appears.")
    async def unspot_display_status_changed(
        self, info: strawberry.Info
    ) -> AsyncIterator[DisplayStatusChange]:
        changes = _service(info).display_status_changes(_caller(info))
        async for change in changes:
            yield to_graphql(DisplayStatusChange, change)

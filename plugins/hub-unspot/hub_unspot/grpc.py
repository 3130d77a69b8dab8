"""UnSpot's gRPC service ``hub.unspot.v1.Unspot``, a thin adapter over :class:`UnspotService`.
The host turns a HubError into the status of the error table."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, TypeAlias

import grpc

from hub.api import HubApi
from hub.caller import caller_of
from hub.paging import Page
from hub.records import sent_fields, to_message
from hub_unspot.errors import bad_request
from hub_unspot.records import Entity, Monitoring
from hub_unspot.service import CALENDARS, DISPLAYS, WEBHOOKS, UnspotService
from hub_unspot.storage import Kind
from hub_unspot.v1 import unspot_pb2 as pb
from hub_unspot.v1 import unspot_pb2_grpc

Context: TypeAlias = grpc.aio.ServicerContext


def to_monitoring(monitoring: Monitoring) -> pb.Monitoring:
    """The displays sit in a message of their own, so that "asked for, none" (set, empty)
    differs from "not asked for" (unset)."""
    message = to_message(pb.Monitoring, replace(monitoring, displays=None))
    if monitoring.displays is not None:
        message.displays.SetInParent()
        message.displays.items.extend(to_message(pb.Display, d) for d in monitoring.displays)
    return message


def upsert_data(request: Any, label: str) -> dict[str, Any]:
    """What was sent, like a REST body; an empty label counts as left out on update."""
    data = sent_fields(request)
    if "id" in data and not data[label]:
        del data[label]
    return data


class UnspotServicer(unspot_pb2_grpc.UnspotServicer):
    def __init__(self, hub: HubApi) -> None:
        self.service = hub.service(UnspotService)

    async def GetMonitoring(self, request: Any, context: Context) -> Any:
        body = await self.service.monitoring(caller_of(context), list(request.categories))
        return to_monitoring(body)

    async def CreateUser(self, request: Any, context: Context) -> Any:
        issued = self.service.create_user(caller_of(context), request.role, request.name)
        return to_message(pb.IssuedToken, issued)

    async def IssueToken(self, request: Any, context: Context) -> Any:
        issued = self.service.issue_token(caller_of(context), request.user_id)
        return to_message(pb.IssuedToken, issued)

    async def DeleteUser(self, request: Any, context: Context) -> Any:
        self.service.delete_user(caller_of(context), request.user_id)
        return pb.DeleteResponse()

    async def ListUsers(self, request: Any, context: Context) -> Any:
        caller = caller_of(context)
        self.service.auth.admin(caller)  # a 401 before a bad limit is a 400
        limit = request.limit if request.HasField("limit") else None
        page = self.service.list_users(caller, Page.of(request.offset, limit, bad_request))
        return pb.ListUsersResponse(
            users=[to_message(pb.User, u) for u in page.users], total_count=page.total
        )

    def _upsert(self, request: Any, context: Context, kind: Kind) -> Entity:
        return self.service.upsert(caller_of(context), kind, upsert_data(request, kind.label))

    def _set_status(self, request: Any, context: Context, kind: Kind) -> Entity:
        return self.service.set_status(caller_of(context), kind, request.id, request.status)

    def _delete(self, request: Any, context: Context, kind: Kind) -> pb.DeleteResponse:
        self.service.delete(caller_of(context), kind, request.id)
        return pb.DeleteResponse()

    async def UpsertDisplay(self, request: Any, context: Context) -> Any:
        return to_message(pb.Display, self._upsert(request, context, DISPLAYS))

    async def SetDisplayStatus(self, request: Any, context: Context) -> Any:
        return to_message(pb.Display, self._set_status(request, context, DISPLAYS))

    async def DeleteDisplay(self, request: Any, context: Context) -> Any:
        return self._delete(request, context, DISPLAYS)

    async def UpsertCalendar(self, request: Any, context: Context) -> Any:
        return to_message(pb.Calendar, self._upsert(request, context, CALENDARS))

    async def SetCalendarStatus(self, request: Any, context: Context) -> Any:
        return to_message(pb.Calendar, self._set_status(request, context, CALENDARS))

    async def DeleteCalendar(self, request: Any, context: Context) -> Any:
        return self._delete(request, context, CALENDARS)

    async def UpsertWebhook(self, request: Any, context: Context) -> Any:
        return to_message(pb.Webhook, self._upsert(request, context, WEBHOOKS))

    async def SetWebhookStatus(self, request: Any, context: Context) -> Any:
        return to_message(pb.Webhook, self._set_status(request, context, WEBHOOKS))

    async def DeleteWebhook(self, request: Any, context: Context) -> Any:
        return self._delete(request, context, WEBHOOKS)

    async def RecordUserSync(self, request: Any, context: Context) -> Any:
        at = request.at if request.HasField("at") else None
        return to_message(pb.UserSync, self.service.record_user_sync(caller_of(context), at))

    async def DisableUserSync(self, request: Any, context: Context) -> Any:
        return to_message(pb.UserSync, self.service.disable_user_sync(caller_of(context)))

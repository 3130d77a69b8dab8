"""The one service layer of ``unspot``: REST, GraphQL, gRPC and ``hub creds add`` call this and
nothing else, so every protocol gives the same data and the same errors. Each operation takes
the :class:`~hub.caller.Caller` first and checks it before anything else; the work lives in
``monitoring``, ``entities`` and ``storage``."""

from __future__ import annotations

import math
import time
from collections.abc import AsyncIterator, Sequence
from typing import TYPE_CHECKING, Any

from hub.api import HubApi
from hub.caller import Caller, while_admitted
from hub.credentials import Credential, CredentialType
from hub.paging import Page
from hub.records import parse_iso8601
from hub_unspot import entities, storage
from hub_unspot.auth import UnspotAuth
from hub_unspot.errors import bad_request, error, user_not_found
from hub_unspot.monitoring import Monitor
from hub_unspot.records import (
    DISPLAY_TOPIC,
    Display,
    DisplayStatusChange,
    Entity,
    IssuedToken,
    Monitoring,
    UserSync,
)
from hub_unspot.settings import PLUGIN, UnspotSettings
from hub_unspot.storage import CALENDARS, DISPLAYS, WEBHOOKS, Kind, UserPage

if TYPE_CHECKING:
    from hub_unspot.upstream import UpstreamMonitor


def parse_instant(value: Any) -> int:
    if not isinstance(value, str):
        raise bad_request("at: expected an ISO 8601 date-time string")
    try:  # floor: the second it happened in, also before 1970 (int() would round up there)
        return math.floor(parse_iso8601(value).timestamp())
    except ValueError as exc:
        raise bad_request(f"at: {exc}") from None


class UnspotService:
    """Built once per hub by ``hub.service(UnspotService)``."""

    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.settings: UnspotSettings = hub.settings_for(PLUGIN)
        self.database = hub.database(PLUGIN)
        self.auth = UnspotAuth(self.database)
        self.monitor = Monitor(hub, self.settings, self.database)
        self.upstream: UpstreamMonitor | None = None
        if self.settings.mode == "upstream":
            from hub_unspot.upstream import UpstreamMonitor

            self.upstream = UpstreamMonitor(hub, self.settings)

    def credential_type(self) -> CredentialType:
        return self.auth.credential_type()

    def authorize(self, caller: Caller) -> Credential:
        """A reader: the hub admin, or a live user's current token whose role may read."""
        return self.auth.reader(caller)

    async def storage_health(self) -> tuple[str, str]:
        return await self.monitor.storage_health()

    # -- monitoring reads ----------------------------------------------------------------
    async def monitoring(
        self,
        caller: Caller,
        requested: Sequence[str] | None = None,
        *,
        rate_limit_category: str | None = None,
    ) -> Monitoring:
        """The categories asked for (none: the full request). REST passes
        ``rate_limit_category``: one request per token per category per ``rate_window``,
        checked after everything that could refuse the request, so a 401/403/404 never uses up
        the window (nor does a 429)."""
        credential = self.authorize(caller)
        if self.upstream is not None:
            if requested:
                self.monitor.categories(requested)  # an unknown category is a 404 first
            self._rate_limit(credential, rate_limit_category)
            return await self.upstream.read(caller, requested)
        categories = self.monitor.categories(requested)
        if requested and "system" in categories and not self.settings.on_premise:
            raise error(
                401,
                "System monitoring is only available for on-premise environment",
                "not_on_premise",
            )
        self._rate_limit(credential, rate_limit_category)
        return await self.monitor.read(categories)

    def _rate_limit(self, credential: Credential, category: str | None) -> None:
        if category is None:
            return
        decision = self.hub.rate_limiter.hit(
            f"{PLUGIN}:{credential.id}:{category}", 1, self.settings.rate_window
        )
        if not decision.allowed:
            raise error(429, "Too Many Requests", "rate_limited", retry_after=decision.retry_after)

    def display_status_changes(self, caller: Caller) -> AsyncIterator[DisplayStatusChange]:
        self.authorize(caller)
        changes = self.hub.events.subscribe(DISPLAY_TOPIC)
        return while_admitted(caller, self.authorize, changes)

    # -- users (admin) -------------------------------------------------------------------
    def create_user(self, caller: Caller, role: Any, name: Any = "") -> IssuedToken:
        """A user and its first token, exactly as ``hub creds add unspot`` makes them."""
        self.auth.admin(caller)
        params = {"role": role, "name": name}
        for key, value in params.items():
            if not isinstance(value, str):
                raise bad_request(f"{key}: expected a string")
        return IssuedToken(**self.hub.credentials.issue(PLUGIN, params))

    def issue_token(self, caller: Caller, user_id: Any) -> IssuedToken:
        """A new current token for the user; the previous one stops working at once."""
        self.auth.admin(caller)
        return IssuedToken(**self.hub.credentials.issue(PLUGIN, {"user_id": str(user_id)}))

    def delete_user(self, caller: Caller, user_id: Any) -> str:
        """The user and its token: refused from now on, and no longer listed as live."""
        self.auth.admin(caller)
        if not storage.delete_user(self.database, user_id):
            raise user_not_found(user_id)
        self.hub.credentials.revoke_matching(PLUGIN, "user_id", str(user_id))
        return str(user_id)

    def list_users(self, caller: Caller, page: Page) -> UserPage:
        """Users in creation order; a keyset cursor seeks, so a deep page costs what the first
        one does."""
        self.auth.admin(caller)
        return storage.read_users(self.database, page)

    # -- displays, calendars, webhooks (admin) -------------------------------------------
    def upsert(self, caller: Caller, kind: Kind, data: Any) -> Entity:
        self.auth.admin(caller)
        self._local_only()
        return self._announce(*entities.upsert(self.database, kind, data))

    def set_status(self, caller: Caller, kind: Kind, ident: Any, status: Any) -> Entity:
        self.auth.admin(caller)
        self._local_only()
        return self._announce(*entities.set_status(self.database, kind, ident, status))

    def delete(self, caller: Caller, kind: Kind, ident: Any) -> str:
        self.auth.admin(caller)
        self._local_only()
        return entities.delete(self.database, kind, ident)

    def _local_only(self) -> None:
        """In upstream mode displays, calendars, webhooks and user sync are the vendor's."""
        if self.upstream is not None:
            raise error(
                409,
                "unspot fronts an UnSpot deployment (mode = upstream): its displays, calendars,"
                " webhooks and user sync are changed there",
                "upstream_mode",
            )

    def _announce(self, entity: Entity, previous: str | None) -> Entity:
        """A display that appears or whose status changes is an event for subscribers."""
        if isinstance(entity, Display) and entity.status != previous:
            change = DisplayStatusChange(entity.id, entity.name, entity.status, previous)
            self.hub.events.publish(DISPLAY_TOPIC, change)
        return entity

    # -- user sync (admin) ---------------------------------------------------------------
    def record_user_sync(self, caller: Caller, at: Any = None) -> UserSync:
        """A finished user sync (at ``at``, default now); it also (re-)enables user sync."""
        self.auth.admin(caller)
        self._local_only()
        epoch = int(time.time()) if at is None else parse_instant(at)
        with self.database.write() as db:
            db.execute("UPDATE user_sync SET enabled = 1, last_sync_at = ? WHERE id = 1", (epoch,))
        return self.monitor.user_sync()

    def disable_user_sync(self, caller: Caller) -> UserSync:
        self.auth.admin(caller)
        self._local_only()
        with self.database.write() as db:
            db.execute("UPDATE user_sync SET enabled = 0 WHERE id = 1")
        return self.monitor.user_sync()


__all__ = ["CALENDARS", "DISPLAYS", "WEBHOOKS", "UnspotService"]

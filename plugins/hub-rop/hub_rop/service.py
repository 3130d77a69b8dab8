"""The one service layer of ``rop``: REST, GraphQL and gRPC call this and nothing else. Every
operation takes the :class:`~hub.caller.Caller` first and checks it (``auth``) before anything
else, then hands the work to the module that does it: ``calls``, ``structure``, ``definitions``,
``analysis``, ``webhooks``. Each returns typed records (``hub_rop.records``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import aiohttp

from hub.api import HubApi
from hub.caller import Caller
from hub.paging import Page
from hub_rop.analysis import ANALYZED_TOPIC, Analysis
from hub_rop.auth import Access
from hub_rop.calls import Calls
from hub_rop.definitions import Definition, Definitions, Kind
from hub_rop.errors import PLUGIN
from hub_rop.intake import Intake
from hub_rop.records import (
    Call,
    CallReady,
    Manager,
    ManagersUpdate,
    Office,
    OfficesUpdate,
    Queued,
    WebhookCounts,
    WebhookDelivery,
)
from hub_rop.settings import RopSettings
from hub_rop.storage import Listing
from hub_rop.structure import Structure
from hub_rop.webhooks import Outbox, WebhookCollector


class RopService:
    """Built once per hub by ``hub.service(RopService)``."""

    def __init__(self, hub: HubApi) -> None:
        self.hub = hub
        self.settings: RopSettings = hub.settings_for(PLUGIN)
        self.database = hub.database(PLUGIN)
        self._session: aiohttp.ClientSession | None = None
        self.access = Access(hub, self.settings)
        self.definitions = Definitions(self.database)
        self.structure = Structure(self.database)
        self.outbox = Outbox(self.database, self.settings, self.session, self.definitions)
        self.intake = Intake(
            self.database,
            self.settings,
            hub.data_dir / "rop-audio",
            self.session,
            lambda call_id: self.analysis.ask_analysers(call_id),
        )
        self.calls = Calls(self.database, self.settings, self.intake, self.session)
        self.analysis = Analysis(hub, self.calls, self.definitions, self.outbox)
        hub.metrics.registry.register(WebhookCollector(self.outbox))

    def session(self) -> aiohttp.ClientSession:
        """One client session for audio and webhooks, made on the serving loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), auto_decompress=False
            )
        return self._session

    async def close(self) -> None:
        """After the host stopped the work queues (their tasks use the session)."""
        if self._session is not None:
            await self._session.close()

    # -- the CRM's methods (rate limited per key) ----------------------------------------
    async def upload(self, caller: Caller, data: Any) -> Queued:
        self.access.client(caller)
        return await self.calls.accept(data)

    def update_offices(self, caller: Caller, data: Any) -> OfficesUpdate:
        self.access.client(caller)
        return self.structure.replace_offices(data)

    def update_managers(self, caller: Caller, data: Any) -> ManagersUpdate:
        self.access.client(caller)
        return self.structure.upsert_managers(data)

    def call_ready(self, caller: Caller, tab: Any, call: Any) -> CallReady:
        self.access.client(caller)
        return self.analysis.ready(tab, call)

    # -- reading -------------------------------------------------------------------------
    def list_calls(self, caller: Caller, status: str | None, page: Page) -> Listing[Call]:
        self.access.reader(caller)
        return self.calls.page(status, page)

    def call(self, caller: Caller, call_id: str) -> Call:
        self.access.reader(caller)
        return self.calls.get(call_id)

    def offices(self, caller: Caller) -> list[Office]:
        self.access.reader(caller)
        return self.structure.offices()

    def managers(self, caller: Caller, page: Page) -> Listing[Manager]:
        self.access.reader(caller)
        return self.structure.managers(page)

    # -- checklists and tables: anyone reads them, the admin changes them -----------------
    def definitions_of(self, caller: Caller, kind: Kind) -> list[Definition]:
        self.access.reader(caller)
        return self.definitions.all(kind)

    def put_definition(self, caller: Caller, kind: Kind, data: Any) -> Definition:
        self.access.admin(caller)
        return self.definitions.put(kind, data)

    def delete_definition(self, caller: Caller, kind: Kind, ident: str) -> str:
        self.access.admin(caller)
        return self.definitions.delete(kind, ident)

    # -- analysis ------------------------------------------------------------------------
    def submit_analysis(self, caller: Caller, data: Any) -> Call:
        self.access.analyser(caller)
        return self.analysis.submit(data)

    def analyzed(self, caller: Caller) -> AsyncIterator[Call]:
        self.access.reader(caller)
        return self.hub.events.subscribe(ANALYZED_TOPIC)  # type: ignore[no-any-return]

    # -- webhooks ------------------------------------------------------------------------
    def deliveries(
        self, caller: Caller, status: str | None, page: Page
    ) -> Listing[WebhookDelivery]:
        self.access.admin(caller)
        return self.outbox.page(status, page)

    def delivery_counts(self, caller: Caller) -> WebhookCounts:
        self.access.reader(caller)
        return WebhookCounts(**self.outbox.counts())

    def redeliver(self, caller: Caller, delivery_id: str) -> WebhookDelivery:
        self.access.admin(caller)
        return self.outbox.redeliver(delivery_id)

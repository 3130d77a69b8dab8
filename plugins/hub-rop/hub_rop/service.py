"""The one service layer of ``rop``: REST, GraphQL and gRPC call this and nothing else. Every
operation takes the :class:`~hub.caller.Caller` first and checks it (``auth``) before anything
else, then hands the work to the module that does it: ``calls``, ``structure``, ``definitions``,
``analysis``, ``webhooks``, and in upstream mode ``upstream`` and ``receivers``. Each returns
typed records (``hub_rop.records``)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

import aiohttp

from hub.api import HubApi
from hub.caller import Caller, while_admitted
from hub.paging import Page
from hub_rop import inputs
from hub_rop.analysis import ANALYZED_TOPIC, Analysis
from hub_rop.auth import Access
from hub_rop.calls import Calls
from hub_rop.definitions import Definition, Definitions, Kind
from hub_rop.errors import PLUGIN, error
from hub_rop.intake import Intake
from hub_rop.receivers import Receivers, kind_of
from hub_rop.records import (
    Call,
    CallReady,
    Manager,
    ManagersUpdate,
    Office,
    OfficesUpdate,
    Queued,
    Received,
    Receiver,
    WebhookCounts,
    WebhookDelivery,
)
from hub_rop.settings import RopSettings
from hub_rop.storage import Listing, import_audio_files
from hub_rop.structure import Structure
from hub_rop.webhooks import Outbox, WebhookCollector

if TYPE_CHECKING:
    from hub_rop.upstream import UpstreamRop


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
        import_audio_files(self.database, hub.data_dir / "rop-audio")  # older versions' files
        self.intake = Intake(
            self.database,
            self.settings,
            self.session,
            lambda call_id: self.analysis.offer(call_id),
        )
        self.calls = Calls(self.database, self.settings, self.intake, self.session)
        self.analysis = Analysis(hub, self.calls, self.definitions, self.outbox)
        hub.metrics.registry.register(WebhookCollector(self.outbox))
        self.upstream: UpstreamRop | None = None
        if self.settings.upstream_mode:
            from hub_rop.upstream import UpstreamRop

            self.upstream = UpstreamRop(hub, self.settings)
        own_listener = hub.settings.plugins.get(PLUGIN, {}).get("listen")
        prefix = "" if own_listener else f"/{PLUGIN}"
        self.receivers = Receivers(self.settings, self.calls, self.outbox, prefix, self._analyzed)

    def session(self) -> aiohttp.ClientSession:
        """One client session for audio and webhooks, made on the serving loop."""
        if self._session is None or self._session.closed:
            self._session = aiohttp.ClientSession(
                connector=aiohttp.TCPConnector(limit=100), auto_decompress=False
            )
        return self._session

    async def close(self) -> None:
        """After the host stopped the work queues (their tasks use the session)."""
        await self.analysis.close()
        if self._session is not None:
            await self._session.close()

    # -- the CRM's methods (rate limited per key) ----------------------------------------
    # Upstream mode: checked here as in local mode (a bad field never spends the vendor's
    # budget), then forwarded; the hub does not fetch audio_url itself, ROP does.
    async def upload(self, caller: Caller, data: Any) -> Queued:
        self.access.client(caller)
        if self.upstream is None:
            return await self.calls.accept(data)
        call = inputs.upload(data)
        queued = await self.upstream.upload(caller, call)
        self.calls.uploaded(call)
        return queued

    async def update_offices(self, caller: Caller, data: Any) -> OfficesUpdate:
        self.access.client(caller)
        if self.upstream is None:
            return self.structure.replace_offices(data)
        return await self.upstream.update_offices(caller, inputs.offices(data))

    async def update_managers(self, caller: Caller, data: Any) -> ManagersUpdate:
        self.access.client(caller)
        if self.upstream is None:
            return self.structure.upsert_managers(data)
        return await self.upstream.update_managers(caller, inputs.managers(data))

    async def call_ready(self, caller: Caller, tab: Any, call: Any) -> CallReady:
        """Upstream mode: a result ROP posted to a receiver answers at once (it is final);
        otherwise ROP is asked, through the cache."""
        self.access.client(caller)
        if self.upstream is None:
            return self.analysis.ready(tab, call)
        tab, call = inputs.ident(tab, "tab"), inputs.ident(call, "call")
        received = self.analysis.stored_ready(tab, call)
        return received or await self.upstream.call_ready(caller, tab, call)

    # -- reading -------------------------------------------------------------------------
    def list_calls(self, caller: Caller, status: str | None, page: Page) -> Listing[Call]:
        self.access.reader(caller)
        return self.calls.page(status, page)

    def call(self, caller: Caller, call_id: str) -> Call:
        self.access.reader(caller)
        return self.calls.get(call_id)

    def offices(self, caller: Caller) -> list[Office]:
        self.access.reader(caller)
        self._local_only("its office structure")
        return self.structure.offices()

    def managers(self, caller: Caller, page: Page) -> Listing[Manager]:
        self.access.reader(caller)
        self._local_only("its managers")
        return self.structure.managers(page)

    def _local_only(self, what: str) -> None:
        if self.upstream is not None:
            raise error(
                409,
                f"rop fronts a ROP deployment (mode = upstream): {what} are ROP's, and ROP"
                " has no method to read them",
                "upstream_mode",
            )

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
        self._local_only("results")
        return self.analysis.submit(data)

    def _analyzed(self, call_id: str) -> None:
        self.hub.events.publish(ANALYZED_TOPIC, self.calls.get(call_id))

    # -- receivers (upstream mode): ROP posts its results to them -----------------------
    def receivers_of(self, caller: Caller) -> list[Receiver]:
        self.access.admin(caller)
        return self.receivers.all()

    def create_receiver(self, caller: Caller, kind: Any, ident: Any) -> Receiver:
        self.access.admin(caller)
        return self.receivers.create(kind_of(kind), ident)

    def delete_receiver(self, caller: Caller, kind: Any, ident: Any) -> str:
        self.access.admin(caller)
        return self.receivers.delete(kind_of(kind), ident)

    def receive(self, caller: Caller, token: str, body: bytes) -> Received:
        """ROP's post: the token in the path admits it, not a key."""
        return self.receivers.receive(token, caller.address, body)

    def analyzed(self, caller: Caller) -> AsyncIterator[Call]:
        self.access.reader(caller)
        calls = self.hub.events.subscribe(ANALYZED_TOPIC)
        return while_admitted(caller, self.access.reader, calls)

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

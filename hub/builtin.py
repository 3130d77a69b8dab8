"""The host's own features, registered through the same hooks as any plugin (datasette's
"default plugins"): the ``hub`` GraphQL root, the admin's credential operations, ``hub.v1.Hub``,
core probes and the timer that records when credentials were last used."""

from __future__ import annotations

import asyncio
import os
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

import grpc
import strawberry

from hub.api import HubApi
from hub.caller import Caller, caller_of
from hub.credentials import CredentialPage
from hub.errors import HubError, quoted
from hub.graphql.context import plugin_resolvers
from hub.graphql.types import JSON, Connection, connection, page_window
from hub.health import plugin_status
from hub.hookspecs import hookimpl
from hub.paging import Page
from hub.plugins import CORE, one_line
from hub.records import to_message
from hub.registrations import (
    GraphQLPart,
    GrpcService,
    HealthProbe,
    PanelData,
    PeriodicJob,
    StatusPanel,
)
from hub.status import SAMPLE_SECONDS, StatusService
from hub.storage import Database, DatabaseUnavailable
from hub.upstream.cache import Target
from hub.upstream.writes import WriteState
from hub.v1 import hub_pb2, hub_pb2_grpc

PUBLIC_PLUGIN_FIELDS = ("name",)  # what ListPlugins tells a caller without the admin token
MAX_STATUS_INTERVAL = 3600


def bad_argument(message: str) -> HubError:
    return HubError(400, message, reason="bad_argument", plugin="hub")


class HubService:
    """What the three adapters of the host itself share. Without the admin token a caller
    learns which plugins there are and their statuses, what an orchestrator needs; versions,
    sources, hooks (what to attack) and probe details (paths, error texts) are for the admin."""

    def __init__(self, hub: Any) -> None:
        self.hub = hub

    def plugins(self, caller: Caller) -> list[dict[str, Any]]:
        plugins = [info.as_dict() for info in self.hub.plugin_info()]
        if caller.is_admin:
            return plugins
        return [
            {key: (value if key in PUBLIC_PLUGIN_FIELDS else None) for key, value in p.items()}
            for p in plugins
        ]

    async def health(self, caller: Caller) -> dict[str, Any]:
        results = await self.hub.health()
        ready = not any(r["status"] == "down" and r["critical"] for r in results)
        try:
            admin = caller.is_admin
        except DatabaseUnavailable:  # another token cannot be looked up: health still answers
            admin = False
        plugins = []
        for name in self.hub.plugins:
            mine = [r for r in results if r["plugin"] == name]
            detail = "; ".join(f"{r['name']}: {r['detail']}" for r in mine if r["detail"])
            plugins.append(
                {
                    "plugin": name,
                    "status": plugin_status(results, name),
                    "detail": detail if admin else None,
                }
            )
        probes = results if admin else [{**r, "detail": None} for r in results]
        return {"status": "ready" if ready else "not ready", "plugins": plugins, "probes": probes}

    def add_credential(self, caller: Caller, plugin: str, params: dict[str, str]) -> dict[str, Any]:
        caller.require_admin()
        return self.hub.credentials.issue(plugin, params)  # type: ignore[no-any-return]

    def credentials(self, caller: Caller, plugin: str | None, page: Page) -> CredentialPage:
        caller.require_admin()
        return self.hub.credentials.listing(plugin, page)  # type: ignore[no-any-return]

    def revoke_credential(self, caller: Caller, plugin: str, credential_id: str) -> dict[str, Any]:
        caller.require_admin()
        return self.hub.credentials.revoke(plugin, credential_id)  # type: ignore[no-any-return]

    def rotate_credential(
        self, caller: Caller, plugin: str, credential_id: str
    ) -> tuple[str, dict[str, Any]]:
        caller.require_admin()
        return self.hub.credentials.rotate(plugin, credential_id)  # type: ignore[no-any-return]

    def upstream_history(
        self, caller: Caller, plugin: str, path: str, query: dict[str, str], page: Page
    ) -> tuple[list[dict[str, Any]], int]:
        """Admin only: the versions of one vendor answer a plugin in upstream mode has seen."""
        caller.require_admin()
        source = self.hub.upstreams.get(plugin)
        if source is None:
            raise HubError(
                404,
                f"plugin: {plugin!r} does not front a vendor",
                reason="not_upstream",
                plugin="hub",
            )
        versions, total = source.cache.history(
            Target.of(path, query.items()), page.offset, page.limit
        )
        return [
            {
                "fetched_at": datetime.fromtimestamp(v.fetched_at, UTC).isoformat(),
                "content_type": v.content_type,
                "body": v.body.decode("utf-8", "replace"),
            }
            for v in versions
        ], total

    async def status(self, caller: Caller, since: float | None = None) -> dict[str, Any]:
        """Admin only: what the status page at ``/`` shows (:mod:`hub.status`)."""
        caller.require_admin()
        return await self.hub.service(StatusService).snapshot(since)  # type: ignore[no-any-return]

    def status_stream(self, caller: Caller, interval: int) -> AsyncIterator[PanelData]:
        """Admin only: a snapshot now and every ``interval`` seconds (1 to 3600)."""
        caller.require_admin()
        if not 1 <= interval <= MAX_STATUS_INTERVAL:
            raise bad_argument(f"intervalSeconds: must be 1 to {MAX_STATUS_INTERVAL}")
        return self.hub.service(StatusService).snapshots(interval)  # type: ignore[no-any-return]

    def upstream_write(self, caller: Caller, write_id: str) -> dict[str, Any]:
        """A forwarded write's state, for the admin or the credential that made it (presented
        as ``Authorization``); any other caller learns nothing, not even that it exists."""
        for plugin, source in self.hub.upstreams.items():
            state = source.writes.state(write_id)
            if state is not None and self._may_see(caller, plugin, state.credential_id):
                return _write_state(state)
        raise HubError(
            404, f"id: no write {quoted(write_id)}", reason="write_not_found", plugin="hub"
        )

    def _may_see(self, caller: Caller, plugin: str, credential_id: str | None) -> bool:
        if caller.is_admin:
            return True
        presented = caller.presented()
        if presented is None or credential_id is None:
            return False
        credential = self.hub.credentials.authenticate(plugin, presented.authorization)
        return credential is not None and credential.id == credential_id


def _iso(at: float | None) -> str | None:
    return None if at is None else datetime.fromtimestamp(at, UTC).isoformat()


def _write_state(state: WriteState) -> dict[str, Any]:
    reply = state.reply
    return {
        "id": state.id,
        "plugin": state.plugin,
        "status": state.status,
        "attempts": state.attempts,
        "last_error": state.last_error,
        "created_at": _iso(state.created_at),
        "replied_at": _iso(state.replied_at),
        "reply_status": reply.status if reply is not None else None,
        "reply_content_type": reply.content_type if reply is not None else None,
        "reply_body": reply.body.decode("utf-8", "replace") if reply is not None else None,
    }


# -- GraphQL ---------------------------------------------------------------------------------
ADMIN_ONLY = "Null unless the caller sends the admin token."


@strawberry.type(name="HubPlugin")
class PluginType:
    name: str
    version: str | None = strawberry.field(description=ADMIN_ONLY)
    source: str | None = strawberry.field(description=ADMIN_ONLY)
    hooks: list[str] | None = strawberry.field(description=ADMIN_ONLY)


@strawberry.type(name="HubPluginHealth")
class PluginHealthType:
    plugin: str
    status: str
    detail: str | None = strawberry.field(description=ADMIN_ONLY)


@strawberry.type(name="HubCredential", description="A live credential; never its secret.")
class CredentialNode:
    id: strawberry.ID
    plugin: str
    login: str | None
    attrs: JSON
    created_at: str
    last_used_at: str | None = strawberry.field(
        description="To the minute from other processes; exact from the one serving you."
    )
    revoked_at: str | None

    @classmethod
    def of(cls, described: dict[str, Any]) -> CredentialNode:
        return cls(**{**described, "id": strawberry.ID(described["id"])})


@strawberry.type(name="HubRotatedCredential")
class RotatedCredentialType:
    id: strawberry.ID = strawberry.field(description="The new id; the old one is revoked.")
    credential: JSON = strawberry.field(description="What hubAddCredential answers, shown once.")


@strawberry.type(name="HubUpstreamVersion", description="One content a vendor answer has had.")
class UpstreamVersionType:
    fetched_at: str = strawberry.field(description="ISO 8601, UTC: first seen with this content.")
    content_type: str
    body: str = strawberry.field(description="The vendor's answer as it came.")


@strawberry.type(
    name="HubUpstreamWrite",
    description="A write forwarded to a vendor in upstream mode, delivered exactly once.",
)
class UpstreamWriteType:
    id: strawberry.ID
    plugin: str
    status: str = strawberry.field(description="pending, done (the vendor answered) or dead.")
    attempts: int
    last_error: str | None
    created_at: str
    replied_at: str | None
    reply_status: int | None = strawberry.field(description="The vendor's HTTP status.")
    reply_content_type: str | None
    reply_body: str | None = strawberry.field(description="The vendor's answer as it came.")


@strawberry.input(name="HubParamInput")
class ParamInput:
    key: str
    value: str


_service, _caller = plugin_resolvers(CORE, HubService)


def _pairs(argument: str, params: list[ParamInput] | None) -> dict[str, str]:
    """Key/value inputs as the map the service takes: a key given twice is refused rather than
    the last one silently kept (``hub creds add`` refuses it too; gRPC's map cannot hold it)."""
    pairs: dict[str, str] = {}
    for param in params or []:
        if param.key in pairs:
            raise bad_argument(f"{argument}: key {param.key!r} is given twice")
        pairs[param.key] = param.value
    return pairs


@strawberry.type(name="HubQuery")
class HubQuery:
    @strawberry.field(description="Loaded plugins, their versions and the hooks they implement.")
    def plugins(self, info: strawberry.Info) -> list[PluginType]:
        return [PluginType(**p) for p in _service(info).plugins(_caller(info))]

    @strawberry.field(description="Each plugin's health, from its probes.")
    async def health(self, info: strawberry.Info) -> list[PluginHealthType]:
        report = await _service(info).health(_caller(info))
        return [PluginHealthType(**p) for p in report["plugins"]]

    @strawberry.field(
        description="Admin only: what the status page at / shows: plugins' health, upstreams,"
        " queues and dead letters, plugins' panels and the last hour of samples."
    )
    async def status(self, info: strawberry.Info) -> JSON:
        return JSON(await _service(info).status(_caller(info)))

    @strawberry.field(description="Admin only: live credentials of a plugin (or all), oldest first")
    def credentials(
        self,
        info: strawberry.Info,
        plugin: str | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[CredentialNode]:
        page = page_window(first, after, bad_argument, seekable=True)
        got = _service(info).credentials(_caller(info), plugin, page)
        nodes = [CredentialNode.of(c) for c in got.items]
        return connection(nodes, got.total, page, got.cursors, got.has_next)

    @strawberry.field(
        description="Admin only: the versions of one vendor answer a plugin in upstream mode"
        " has seen (a version per content change), newest first."
    )
    def upstream_history(
        self,
        info: strawberry.Info,
        plugin: str,
        path: str,
        query: list[ParamInput] | None = None,
        first: int | None = None,
        after: str | None = None,
    ) -> Connection[UpstreamVersionType]:
        page = page_window(first, after, bad_argument)
        pairs = _pairs("query", query)
        versions, total = _service(info).upstream_history(_caller(info), plugin, path, pairs, page)
        return connection([UpstreamVersionType(**v) for v in versions], total, page)

    @strawberry.field(
        description="A write forwarded in upstream mode, for the admin or the credential that"
        " made it; what a WRITE_PENDING error's writeId points at."
    )
    def upstream_write(self, info: strawberry.Info, id: strawberry.ID) -> UpstreamWriteType:
        state = _service(info).upstream_write(_caller(info), str(id))
        return UpstreamWriteType(**{**state, "id": strawberry.ID(state["id"])})


@strawberry.type(name="HubMutation")
class HubMutation:
    @strawberry.mutation(description="Admin only: create a plugin credential, shown this once.")
    def hub_add_credential(
        self, info: strawberry.Info, plugin: str, params: list[ParamInput] | None = None
    ) -> JSON:
        pairs = _pairs("params", params)
        return JSON(_service(info).add_credential(_caller(info), plugin, pairs))

    @strawberry.mutation(description="Admin only: revoke a credential at once, everywhere.")
    def hub_revoke_credential(
        self, info: strawberry.Info, plugin: str, id: strawberry.ID
    ) -> CredentialNode:
        return CredentialNode.of(_service(info).revoke_credential(_caller(info), plugin, str(id)))

    @strawberry.mutation(
        description="Admin only: a new secret (and id) with the same attributes; the old one"
        " stops working at once."
    )
    def hub_rotate_credential(
        self, info: strawberry.Info, plugin: str, id: strawberry.ID
    ) -> RotatedCredentialType:
        new_id, shown = _service(info).rotate_credential(_caller(info), plugin, str(id))
        return RotatedCredentialType(id=strawberry.ID(new_id), credential=JSON(shown))


@strawberry.type(name="HubSubscription")
class HubSubscription:
    @strawberry.subscription(
        description="Admin only: hub { status } now and every intervalSeconds (1 to 3600); after"
        " the first, samples holds only the points taken since the previous one."
    )
    async def hub_status(
        self, info: strawberry.Info, interval_seconds: int = 5
    ) -> AsyncIterator[JSON]:
        async for snapshot in _service(info).status_stream(_caller(info), interval_seconds):
            yield JSON(snapshot)


# -- gRPC ------------------------------------------------------------------------------------
class HubServicer(hub_pb2_grpc.HubServicer):
    def __init__(self, hub: Any) -> None:
        self.service = hub.service(HubService)

    async def ListPlugins(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        plugins = self.service.plugins(caller_of(context))
        return hub_pb2.ListPluginsResponse(plugins=[to_message(hub_pb2.Plugin, p) for p in plugins])

    async def Health(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        report = await self.service.health(caller_of(context))
        return hub_pb2.HealthResponse(
            status=report["status"],
            plugins=[to_message(hub_pb2.PluginHealth, p) for p in report["plugins"]],
            probes=[to_message(hub_pb2.Probe, p) for p in report["probes"]],
        )

    async def AddCredential(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        issued = self.service.add_credential(
            caller_of(context), request.plugin, dict(request.params)
        )
        return to_message(hub_pb2.AddCredentialResponse, {"credential": issued})

    async def ListCredentials(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        limit = request.limit if request.HasField("limit") else None
        page = Page.of(request.offset, limit, bad_argument)
        got = self.service.credentials(
            caller_of(context), request.plugin if request.HasField("plugin") else None, page
        )
        return hub_pb2.ListCredentialsResponse(
            credentials=[to_message(hub_pb2.Credential, c) for c in got.items],
            total_count=got.total,
        )

    async def RevokeCredential(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        revoked = self.service.revoke_credential(caller_of(context), request.plugin, request.id)
        return hub_pb2.RevokeCredentialResponse(credential=to_message(hub_pb2.Credential, revoked))

    async def RotateCredential(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        new_id, shown = self.service.rotate_credential(
            caller_of(context), request.plugin, request.id
        )
        return to_message(hub_pb2.RotateCredentialResponse, {"id": new_id, "credential": shown})

    async def UpstreamHistory(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        limit = request.limit if request.HasField("limit") else None
        page = Page.of(request.offset, limit, bad_argument)
        versions, total = self.service.upstream_history(
            caller_of(context), request.plugin, request.path, dict(request.query), page
        )
        return hub_pb2.UpstreamHistoryResponse(
            versions=[hub_pb2.UpstreamVersion(**v) for v in versions], total_count=total
        )

    async def UpstreamWrite(self, request: Any, context: grpc.aio.ServicerContext) -> Any:
        state = self.service.upstream_write(caller_of(context), request.id)
        return to_message(hub_pb2.UpstreamWriteState, state)


# -- hooks -----------------------------------------------------------------------------------
@hookimpl(trylast=True)
def register_graphql(hub: HubApi, register: Callable[[GraphQLPart], None]) -> None:
    register(GraphQLPart(query=HubQuery, mutation=HubMutation, subscription=HubSubscription))


@hookimpl(trylast=True)
def register_grpc(hub: HubApi, register: Callable[[GrpcService], None]) -> None:
    register(GrpcService("hub.v1.Hub", HubServicer(hub), hub_pb2_grpc.add_HubServicer_to_server))


@hookimpl(trylast=True)
def register_jobs(hub: HubApi, register: Callable[[PeriodicJob], None]) -> None:
    register(
        PeriodicJob(
            "credential_last_used",
            hub.credentials.last_used.FLUSH_SECONDS,
            hub.credentials.last_used.flush,
            scope="worker",  # each process flushes what it saw
        )
    )
    # the status page's last hour is kept in each process's memory: each samples
    sample = hub.service(StatusService).sample
    register(PeriodicJob("status.sample", SAMPLE_SECONDS, sample, scope="worker"))


@hookimpl(trylast=True)
def shutdown(hub: HubApi) -> None:
    hub.credentials.last_used.flush()


def database_problem(database: Database) -> str:
    """What keeps the engine from answering, in one line naming where it is (never a
    password), or "" when it answers: checked on a connection of its own, as the hub's
    long-lived one may be broken without knowing it yet."""
    try:
        database.check()
    except DatabaseUnavailable as exc:
        return str(exc)  # where, and the driver's reason
    except Exception as exc:  # StorageError (a file removed, a schema dropped), an OSError
        detail = one_line(exc)
        where = database.location
        return detail if detail.startswith(where) else f"{where}: {detail}"
    return ""


@hookimpl(trylast=True)
def register_health_probes(hub: HubApi, register: Callable[[HealthProbe], None]) -> None:
    async def database() -> tuple[str, str]:
        # a thread: a connect that hangs (the server's host gone) must not hold the event loop
        problem = await asyncio.to_thread(database_problem, hub.database(CORE))
        password = urlsplit(hub.settings.database_url).password
        if password:  # a driver's message may quote what it was given
            problem = problem.replace(password, "***")
        return ("down", problem) if problem else ("ok", "")

    def data_dir() -> tuple[str, str]:
        if not os.access(hub.data_dir, os.W_OK):
            return "down", f"{hub.data_dir} is not writable"
        return "ok", ""

    register(HealthProbe("database", database))
    register(HealthProbe("data_dir", data_dir))


@hookimpl(trylast=True)
def register_status_panels(hub: HubApi, register: Callable[[StatusPanel], None]) -> None:
    """The periodic jobs: one that keeps failing is what an operator looks for first."""

    def timers() -> PanelData:
        return {
            "timers": [
                {
                    "timer": f"{t['plugin']}.{t['name']}",
                    "runs": t["runs"],
                    "failures": t["failures"],
                    "last_seconds": t["last_duration"],
                    "last_error": t["last_error"],
                }
                for t in hub.timers.stats()
            ]
        }

    register(StatusPanel("timers", timers))

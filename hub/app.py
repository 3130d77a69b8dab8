"""The running hub: settings, plugins, databases and every registration they made."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import re
import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

from aiohttp import web

from hub import ratelimit
from hub.api import HubApi
from hub.config import (
    ConfigError,
    Settings,
    env_names,
    listen_from_env,
    plugin_settings,
    unknown_env,
    unsupported_field,
)
from hub.credentials import CredentialStore, CredentialType, load_admin_token, m001_credentials
from hub.errors import HubError, StartupError
from hub.events import EventBus
from hub.leases import Leases, m001_leases
from hub.metrics import HubMetrics
from hub.outage import log_failure
from hub.pgbus import m001_bus_events
from hub.plugins import CORE, PluginInfo, in_call_order, invoke, load_plugins, one_line
from hub.queue import WorkQueue
from hub.registrations import (
    BackgroundQueue,
    GraphQLPart,
    GrpcService,
    HealthProbe,
    PeriodicJob,
    RestApi,
    StatusPanel,
)
from hub.storage import Database, Engine, Migration, private_directory
from hub.timer_stats import TimerStore, m001_timer_stats
from hub.timers import TimerRegistry
from hub.upstream.budget import m001_budget
from hub.upstream.cache import m001_cache
from hub.upstream.source import Upstream, Vendor
from hub.upstream.writes import m002_writes

log = logging.getLogger("hub")
S = TypeVar("S")

PLUGIN_NAME = re.compile(r"^[a-z][a-z0-9_]*$")
UPSTREAM_DATABASE = "_upstream"  # caches, budgets and histories of every upstream source
COORDINATION_DATABASE = "_workers"  # leases and timer statistics of a multi-worker hub
WORKER_VARIABLE = "HUB_WORKER_INDEX"  # set by the supervisor in each worker's environment
INSTANCE_VARIABLE = "HUB_INSTANCE"  # the supervisor's start: one instance id for every worker
STARTED_VARIABLE = "HUB_STARTED"  # when the supervisor started (epoch seconds)
BUS_VARIABLE = "HUB_BUS"  # the supervisor's event broker (hub.bus)


def worker_index(env: dict[str, str] | None = None) -> int | None:
    """This process's index among the workers of ``hub serve --workers N``, or None."""
    value = (os.environ if env is None else env).get(WORKER_VARIABLE)
    return int(value) if value is not None and value.isdigit() else None


@contextlib.contextmanager
def attributed(plugin: str, what: str) -> Iterator[None]:
    """A plugin's code failing while the hub is assembled stops the start with one line naming
    the plugin and the problem; the host's own start-up and config errors pass unchanged."""
    try:
        yield
    except (StartupError, ConfigError):
        raise
    except Exception as exc:
        log.debug("plugin %s: %s failed", plugin, what, exc_info=True)
        raise StartupError(f"plugin {plugin}: {what}: {one_line(exc)}") from exc


def _migration(migration: Any, registered: list[Any]) -> Any:
    """A migration as ``register_migrations`` may give it: a function with a name of its own
    (it is recorded by that name, so a lambda or a second one of the same name would be
    skipped or run again unseen). A ValueError: ``attributed`` names the plugin and hook."""
    name = getattr(migration, "__name__", None)
    if not callable(migration) or not name or name == "<lambda>":
        what = "a lambda" if name == "<lambda>" else repr(migration)[:60]
        raise ValueError(
            f"{what}: a migration is a function with a name of its own (its name is"
            " recorded: never rename one that has shipped)"
        )
    if any(m.__name__ == name for m in registered):
        raise ValueError(f"two migrations are named {name}")
    return migration


def _check_rest(plugin: str, api: RestApi) -> None:
    """What a plugin's REST surface must be, found at registration (a ValueError, which
    ``attributed`` names): each route an aiohttp route definition (a bare handler was found
    only when the server was built, naming no plugin), and an error renderer that answers a
    response (one that did not made every error under the prefix a 500)."""
    for route in api.routes:
        if not isinstance(route, web.AbstractRouteDef):
            raise ValueError(
                f"routes: {repr(route)[:60]} is no aiohttp route definition"
                " (web.get(path, handler), web.post(...), ...)"
            )
    probe = HubError(404, "not found", reason="not_found", plugin=plugin)
    try:
        answer = api.render_error(probe)
    except Exception as exc:
        raise ValueError(f"render_error failed on a 404: {exc}") from exc
    if not isinstance(answer, web.StreamResponse):
        raise ValueError(
            f"render_error returned {type(answer).__name__}, expected an aiohttp web.Response"
        )


# the host's databases migrated when a hub first uses them rather than at every start
COORDINATION_MIGRATIONS: list[Migration] = [m001_leases, m001_timer_stats, m001_bus_events]
UPSTREAM_MIGRATIONS: list[Migration] = [m001_budget, m001_cache, m002_writes]


class Hub:
    """The running hub. What plugins may reach of it is :class:`hub.api.HubApi` (the module's
    last line has mypy check that ``Hub`` offers all of it); the rest is the host's."""

    def __init__(
        self,
        settings: Settings,
        env: dict[str, str] | None = None,
        before_open: Callable[[Hub], None] | None = None,
    ) -> None:
        """Plugins are loaded and every setting checked before the data directory is touched;
        ``before_open`` adds a command's own checks (a port in use, a plugin name) there."""
        self.settings = settings
        self.data_dir = Path(settings.data_dir)
        self.pm, self.plugins = load_plugins(settings.plugins_dir, env)
        for name in self.plugins:
            if not PLUGIN_NAME.match(name):
                raise StartupError(f"plugin name {name!r} must match {PLUGIN_NAME.pattern}")
            listen_from_env(settings, name, env)
        unknown = set(settings.plugins) - set(self.plugins)
        if unknown:
            raise ConfigError(f"plugins.{sorted(unknown)[0]}: no such plugin is loaded")
        self.options: dict[str, Any] = {}
        self._collect_settings(env)
        classes = {name: type(options) for name, options in self.options.items()}
        known = env_names({name: classes.get(name) for name in self.plugins})
        for warning in unknown_env(known, env):
            log.warning("%s", warning)
        if before_open is not None:
            before_open(self)
        private_directory(self.data_dir)
        self.storage = Engine(
            self.data_dir, settings.database_url, settings.database_statement_timeout
        )
        self._databases: dict[str, Database] = {}
        self._services: dict[type, Any] = {}
        core_db = self.database(CORE)
        core_db.migrate(CORE, [m001_credentials])
        self.admin_token = load_admin_token(
            self.data_dir, settings.admin_token or None, core_db if self.storage.shared else None
        )
        self.admin_token_created = self.admin_token.generated is not None
        self.credentials = CredentialStore(core_db, admin_hash=self.admin_token.digest)
        # its own file: its frequent writes (rate limits, when credentials were last used) must
        # not move hub.db's data_version, which empties every process's credential cache
        limits_db = self.database(ratelimit.DATABASE)
        limits_db.migrate(CORE, ratelimit.MIGRATIONS)
        self.rate_limiter = ratelimit.RateLimiter(limits_db)
        self.credentials.last_used.store_in(limits_db, CORE)
        self.worker = worker_index(env)
        environ = os.environ if env is None else env
        # one start of the hub: of this process, or of the supervisor of a multi-worker hub
        self.instance_id = environ.get(INSTANCE_VARIABLE) or uuid.uuid4().hex
        self.started_at = float(environ.get(STARTED_VARIABLE) or time.time())
        self.timers = self._timer_registry()
        self.events = self._event_bus(environ.get(BUS_VARIABLE))
        self.queues: list[tuple[str, BackgroundQueue]] = []
        self.metrics = HubMetrics(self.timers, self.queue_depths, self.worker)
        self.upstreams: dict[str, Upstream] = {}
        # filled by ``hub serve`` once bound: "http", "grpc", "http:<plugin>" -> (host, port)
        self.listening: dict[str, tuple[str, int]] = {}
        self._migrate()
        self.rest: dict[str, RestApi] = {}
        self.graphql_parts: dict[str, GraphQLPart] = {}
        self.grpc_services: list[tuple[str, GrpcService]] = []
        self.probes: list[tuple[str, HealthProbe]] = []
        self._collect("register_credential_types", CredentialType, self.credentials.register_type)
        self._collect("register_rest", RestApi, self._add_rest)
        self._collect("register_graphql", GraphQLPart, self._add_graphql)
        self._collect("register_grpc", GrpcService, lambda p, s: self.grpc_services.append((p, s)))
        self._collect(
            "register_health_probes", HealthProbe, lambda p, h: self.probes.append((p, h))
        )
        self._collect("register_jobs", PeriodicJob, self._add_job)
        self._collect("register_queues", BackgroundQueue, self._add_queue)
        self.status_panels: list[tuple[str, StatusPanel]] = []
        self._collect(
            "register_status_panels", StatusPanel, lambda p, s: self.status_panels.append((p, s))
        )

    def _timer_registry(self) -> TimerRegistry:
        """A worker of a multi-worker hub, or any hub on PostgreSQL (several hubs may share
        it), runs its ``hub``-scoped timers under leases and records every run where all
        processes see it; one process on SQLite keeps them to itself."""
        if self.worker is None and not self.storage.shared:
            return TimerRegistry()
        shared = self.database(COORDINATION_DATABASE)
        shared.migrate(CORE, COORDINATION_MIGRATIONS)
        name = f"worker-{self.worker or 0}"
        if self.storage.shared:  # one row per timer and process of each hub of the cluster
            name = f"{socket.gethostname()}:{self.data_dir.resolve()}:{name}"
        store = TimerStore(shared, name)
        store.idle()
        return TimerRegistry(Leases(shared), store)

    def _event_bus(self, broker: str | None) -> EventBus:
        """Events reach every hub of the cluster through PostgreSQL, else every worker of this
        hub through the supervisor's broker, else this process."""
        if not self.storage.shared:
            return EventBus(broker)
        shared = self.database(COORDINATION_DATABASE)
        shared.migrate(CORE, COORDINATION_MIGRATIONS)
        return EventBus(database=shared)

    # -- registrations -------------------------------------------------------------------
    @staticmethod
    def _register(
        plugin: str, kind: type, add: Callable[[str, Any], None]
    ) -> Callable[[Any], None]:
        def register(item: Any) -> None:
            if not isinstance(item, kind):
                raise TypeError(f"plugin {plugin} registered {item!r}, expected {kind.__name__}")
            add(plugin, item)

        return register

    def _collect(self, hook: str, kind: type, add: Callable[[str, Any], None]) -> None:
        for impl in in_call_order(self.pm, hook):
            with attributed(impl.plugin_name, hook):
                invoke(impl, hub=self, register=self._register(impl.plugin_name, kind, add))

    def _collect_settings(self, env: dict[str, str] | None) -> None:
        for impl in in_call_order(self.pm, "register_settings"):

            def add(cls: type, plugin: str = impl.plugin_name) -> None:
                if not dataclasses.is_dataclass(cls):
                    raise ValueError(f"{cls!r}: the settings are a dataclass")
                problem = unsupported_field(cls)
                if problem is not None:
                    raise ValueError(f"{cls.__name__}.{problem}")
                self.options[plugin] = plugin_settings(self.settings, plugin, cls, env)

            with attributed(impl.plugin_name, "register_settings"):
                invoke(impl, register=add)
        for plugin, table in self.settings.plugins.items():
            if plugin not in self.options and set(table) - {"listen"}:
                key = sorted(set(table) - {"listen"})[0]
                raise ConfigError(f"plugins.{plugin}.{key}: plugin {plugin} takes no settings")

    def _migrate(self) -> None:
        per_plugin: dict[str, list[Any]] = {}
        for impl in in_call_order(self.pm, "register_migrations"):
            migrations = per_plugin.setdefault(impl.plugin_name, [])
            with attributed(impl.plugin_name, "register_migrations"):
                invoke(impl, register=lambda m, into=migrations: into.append(_migration(m, into)))
        for plugin, migrations in per_plugin.items():
            with attributed(plugin, "migration"):
                applied = self.database(plugin).migrate(plugin, migrations)
            if applied:
                log.info("plugin %s: applied migrations %s", plugin, ", ".join(applied))

    def _add_rest(self, plugin: str, api: RestApi) -> None:
        if plugin in self.rest:
            raise StartupError(f"plugin {plugin} registers two REST surfaces")
        _check_rest(plugin, api)
        self.rest[plugin] = api

    def _add_graphql(self, plugin: str, part: GraphQLPart) -> None:
        if plugin in self.graphql_parts:
            raise StartupError(f"plugin {plugin} registers GraphQL twice")
        self.graphql_parts[plugin] = part

    def _add_job(self, plugin: str, job: PeriodicJob) -> None:
        if job.scope not in ("hub", "worker"):
            raise StartupError(f"plugin {plugin}: job {job.name}: scope must be hub or worker")
        self.timers.add(plugin, job.name, job.interval, job.job, job.scope)

    def _add_queue(self, plugin: str, queue: BackgroundQueue) -> None:
        """A depth to report; a :class:`hub.queue.WorkQueue` also gets its consumer job on the
        host's timers and is stopped (leases given back) by :meth:`stop_queues`."""
        name = f"{plugin}.{queue.name}"
        if any(f"{p}.{q.name}" == name for p, q in self.queues):
            raise StartupError(f"plugin {plugin} registers the queue {queue.name} twice")
        if isinstance(queue, WorkQueue):
            # every worker consumes: the queue leases its items one by one
            self.timers.add(plugin, queue.job, queue.interval, queue.run, "worker")
        self.queues.append((plugin, queue))

    # -- what plugins use ----------------------------------------------------------------
    def database(self, plugin: str) -> Database:
        """The plugin's own database: the SQLite file ``<data-dir>/<plugin>.db``, or the schema
        ``<plugin>`` on PostgreSQL."""
        if plugin not in self._databases:
            self._databases[plugin] = self.storage.open(plugin)
        return self._databases[plugin]

    def settings_for(self, plugin: str) -> Any:
        return self.options.get(plugin)

    def service(self, cls: type[S]) -> S:
        """One instance per hub of a plugin's service layer, built as ``cls(hub)`` on first use,
        so the REST, GraphQL and gRPC adapters share it."""
        if cls not in self._services:
            self._services[cls] = cls(self)  # type: ignore[call-arg]
        return self._services[cls]  # type: ignore[no-any-return]

    def upstream(self, plugin: str, vendor: Vendor) -> Upstream:
        """The plugin's vendor deployment (one per plugin), with its poller on the host's
        timers and a health probe of its own; closed at shutdown."""
        if plugin in self.upstreams:
            return self.upstreams[plugin]
        vendor.settings.check(plugin)
        database = self.database(UPSTREAM_DATABASE)
        database.migrate(CORE, UPSTREAM_MIGRATIONS)
        source = Upstream(plugin, vendor, database, self.metrics, self.events.shared)
        self._add_queue(plugin, source.writes.queue)
        # every worker tells the shared cache what its readers asked for; one polls (a lease in
        # a multi-worker hub), and the shared budget holds whoever fetches
        interval = vendor.settings.poll
        self.timers.add(plugin, "upstream.reads", interval, source.flush_reads, "worker")
        self.timers.add(plugin, "upstream.poll", interval, source.poll)
        self.probes.append((plugin, HealthProbe("upstream", source.health, critical=False)))
        self.upstreams[plugin] = source
        return source

    async def close_upstreams(self) -> None:
        await asyncio.gather(*(source.close() for source in self.upstreams.values()))

    def queue_depths(self) -> list[tuple[str, int]]:
        """``(plugin.queue, pending)`` for every registered background queue; a queue whose
        count fails reports -1 rather than hiding the others."""
        depths = []
        for plugin, queue in self.queues:
            try:
                depth = int(queue.depth())
            except Exception as exc:
                log_failure(log, exc, "queue %s.%s: depth failed", plugin, queue.name)
                depth = -1
            depths.append((f"{plugin}.{queue.name}", depth))
        return depths

    async def stop_queues(self) -> None:
        """At shutdown, after the timers stop and before plugins are told: every work queue
        cancels its items in flight and releases their leases."""
        await asyncio.gather(*(q.stop() for _, q in self.queues if isinstance(q, WorkQueue)))

    def admin_token_notice(self) -> str:
        """Shown once, by whichever command generated the token."""
        stored = self.data_dir / "admin-token"
        shared = f"; every hub on {self.storage.location} accepts it" if self.storage.shared else ""
        return f"admin token (shown once, also in {stored}{shared}): {self.admin_token.generated}"

    def assembly_error(self, exc: Exception) -> StartupError:
        """One line for a failure while the server is built from the registrations: the plugin
        whose GraphQL strawberry refuses (each part is built alone, only on this path), else the
        error itself. The traceback goes to the debug log."""
        from hub.graphql.schema import build_schema

        if isinstance(exc, StartupError):
            return exc
        log.debug("building the server failed", exc_info=exc)
        for plugin, part in self.graphql_parts.items():
            try:
                build_schema({plugin: part})
            except Exception as own:
                return StartupError(f"plugin {plugin}: GraphQL schema: {one_line(own)}")
        return StartupError(f"cannot build the server: {type(exc).__name__}: {one_line(exc)}")

    def plugin_info(self) -> list[PluginInfo]:
        return list(self.plugins.values())

    async def health(self) -> list[dict[str, Any]]:
        from hub.health import run_probes

        return await run_probes(self.probes)

    def close(self) -> None:
        for db in self._databases.values():
            db.close()
        self._databases.clear()


_OFFERS_THE_PLUGIN_API: type[HubApi] = Hub  # mypy: Hub satisfies what hooks and services are given

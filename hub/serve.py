"""Start everything, announce the listening addresses, drain and stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
import signal
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from typing import Any, TypeVar

from aiohttp import web

from hub.app import Hub
from hub.config import Settings, parse_address
from hub.errors import StartupError
from hub.graphql.schema import build_schema
from hub.graphql.view import GraphQLEndpoint
from hub.grpc.server import GrpcServer
from hub.http.protocol import ConnectionLimits, HubRunner, Listener
from hub.http.server import build_apps, own_listener
from hub.plugins import call_lifecycle
from hub.registrations import ErrorRenderer, default_error_renderer
from hub.rendered import renderings

log = logging.getLogger("hub")
# the youngest generation is collected after this many allocations (Python's default: 700)
GC_THRESHOLDS = (20_000, 10, 10)
STOP_MARGIN = 2.0  # seconds past shutdown_timeout by which stop() is over, whatever hangs
EVENT_LOOP_VARIABLE = "HUB_EVENT_LOOP"
LOOPS = ("auto", "uvloop", "asyncio")
T = TypeVar("T")


def loop_factory(choice: str | None = None) -> Callable[[], asyncio.AbstractEventLoop] | None:
    """The event loop a hub serves on: uvloop when it is installed (``auto``, the default:
    it serves the same requests for less CPU), else asyncio's own; ``HUB_EVENT_LOOP`` set to
    ``asyncio`` or ``uvloop`` picks one (``uvloop`` when it is not installed is a start-up
    error). ``None``: asyncio's default."""
    choice = (choice or os.environ.get(EVENT_LOOP_VARIABLE) or "auto").strip().lower()
    if choice not in LOOPS:
        raise StartupError(f"{EVENT_LOOP_VARIABLE}={choice}: expected one of {', '.join(LOOPS)}")
    if choice == "asyncio":
        return None
    try:
        import uvloop
    except ImportError:
        if choice == "auto":
            return None
        raise StartupError(
            f"{EVENT_LOOP_VARIABLE}=uvloop: uvloop is not installed"
            " (pip install uvloop; it has no Windows build)"
        ) from None
    return uvloop.new_event_loop


def run_loop(main: Coroutine[Any, Any, T]) -> T:
    """``asyncio.run(main)`` on the loop :func:`loop_factory` picks."""
    try:
        factory = loop_factory()
    except StartupError:
        main.close()  # never awaited: no warning about it on top of the error
        raise
    with asyncio.Runner(loop_factory=factory) as runner:
        return runner.run(main)


async def _within(until: float, what: str, work: Awaitable[Any]) -> None:
    """Await ``work`` until ``until`` (loop time) at the latest; past it, give up on it."""
    try:
        async with asyncio.timeout_at(until):
            await work
    except TimeoutError:
        log.warning("shutdown: gave up %s at the deadline", what)


class Server:
    """A hub's listeners; ``start()`` binds and returns the real addresses."""

    def __init__(self, hub: Hub, reuse_port: bool = False) -> None:
        """``reuse_port``: a worker of a multi-worker hub, sharing its ports with the others."""
        self.hub = hub
        self.reuse_port = reuse_port
        renderings.budget = hub.settings.rendered_rows_bytes
        self.schema = build_schema(hub.graphql_parts, hub.settings.graphql)
        self.graphql = GraphQLEndpoint(hub, self.schema, hub.settings.graphql)
        self.main_app, self.own_apps = build_apps(hub, self.graphql.routes())
        self.main_app.on_shutdown.append(self._close_websockets)
        self.grpc = GrpcServer(hub, reuse_port)
        self.limits = ConnectionLimits.from_settings(hub.settings)
        self.runners: list[HubRunner] = []
        self.addresses: dict[str, tuple[str, int]] = hub.listening  # plugins read them there
        self.deadline: float | None = None  # loop time by which a stop lets requests finish

    async def _close_websockets(self, app: web.Application) -> None:
        self.hub.events.close()
        # each close waits for the client's answer: one that never answers must not hold the stop
        with contextlib.suppress(TimeoutError):
            async with asyncio.timeout_at(self.deadline):
                await self.graphql.strawberry_view.close_websockets()

    async def _serve_http(
        self,
        name: str,
        app: web.Application,
        address: str,
        key: str,
        render: ErrorRenderer = default_error_renderer,
        plugin: str | None = None,
    ) -> None:
        host, port = parse_address(address, key)
        runner = HubRunner(app, Listener(name, render, plugin, self.limits, self.hub.metrics))
        await runner.setup()
        sock = socket.create_server(
            (host, port),
            family=socket.AF_INET6 if ":" in host else socket.AF_INET,
            reuse_port=self.reuse_port,
        )
        site = web.SockSite(runner, sock)
        await site.start()
        self.runners.append(runner)
        self.addresses[name] = sock.getsockname()[:2]

    async def start(self) -> None:
        await call_lifecycle(self.hub.pm, "startup", self.hub)
        settings = self.hub.settings
        await self._serve_http("http", self.main_app, settings.http, "http")
        for plugin, app in self.own_apps.items():
            address = own_listener(plugin, self.hub) or ""
            await self._serve_http(
                f"http:{plugin}",
                app,
                address,
                f"plugins.{plugin}.listen",
                self.hub.rest[plugin].render_error,
                plugin,
            )
        host, port = parse_address(settings.grpc, "grpc")
        self.addresses["grpc"] = (host, self.grpc.bind(host, port))
        await self.grpc.start()
        self.hub.timers.add("hub", "grpc_health", 5.0, self.grpc.refresh_health, "worker")
        self.hub.timers.start()

    async def stop(self) -> None:
        """Refuse new work at once (listening sockets and idle connections closed, gRPC refusing
        new calls), let requests in flight run until ``shutdown_timeout``, cancel the rest, then
        stop timers and tell plugins: over within ``shutdown_timeout`` + ``STOP_MARGIN``."""
        grace = self.hub.settings.shutdown_timeout
        self.deadline = asyncio.get_running_loop().time() + grace
        draining = asyncio.gather(
            self.grpc.stop(grace), *(runner.stop(self.deadline) for runner in self.runners)
        )
        await _within(self.deadline + STOP_MARGIN / 2, "draining requests", draining)
        await _within(self.deadline + STOP_MARGIN, "stopping timers and plugins", self._finish())
        self.hub.close()

    async def _finish(self) -> None:
        await self.hub.timers.stop()
        await self.hub.stop_queues()
        await self.hub.close_upstreams()
        await call_lifecycle(self.hub.pm, "shutdown", self.hub)


def announce(server: Server, echo: Any = print) -> None:
    announce_addresses(server.addresses, echo)


def announce_addresses(addresses: dict[str, tuple[str, int]], echo: Any = print) -> None:
    """``http listening on HOST:PORT``, ``grpc listening on HOST:PORT``, and for a plugin on a
    listener of its own ``<plugin> http listening on HOST:PORT``; an IPv6 host in brackets, so
    the address can be pasted into a URL or ``--http``."""
    for name, (host, port) in addresses.items():
        label = f"{name.split(':')[1]} http" if name.startswith("http:") else name
        shown = f"[{host}]" if ":" in host else host
        echo(f"{label} listening on {shown}:{port}", flush=True)


def build_server(hub: Hub, reuse_port: bool = False) -> Server:
    """The hub's listeners, not yet bound; a plugin's GraphQL that strawberry refuses ends the
    start with one line naming the plugin."""
    try:
        return Server(hub, reuse_port)
    except Exception as exc:
        hub.close()
        raise hub.assembly_error(exc) from exc


@contextlib.asynccontextmanager
async def running(server: Server) -> AsyncIterator[Server]:
    """``server`` started, stopped (drained) when the block ends; a start that fails half-way
    (a port in use) undoes what did start and tells the plugins before the error goes on."""
    try:
        await server.start()
    except BaseException:
        await server.stop()
        raise
    settle_collector()
    try:
        yield server
    finally:
        await server.stop()


def settle_collector() -> None:
    """Leave what the started hub keeps for its life (schema, plugins, compiled plans) out of
    the garbage collector's passes, and run the youngest pass less often: a list answer makes
    thousands of short-lived objects, and each pass otherwise walks the whole heap's survivors."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(*GC_THRESHOLDS)


async def serve(settings: Settings) -> None:
    hub = Hub(settings, before_open=probe_listeners)
    if hub.admin_token_created:
        print(hub.admin_token_notice(), flush=True)
    server = build_server(hub)
    stop = asyncio.Event()  # set up before the announcement: a SIGTERM right after it drains too
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with running(server):
        log.info("event loop: %s", type(loop).__module__.partition(".")[0])
        announce(server)
        await stop.wait()
        log.info("shutting down: draining in-flight requests")


def probe_listeners(hub: Hub) -> None:
    """Bind each configured address for a moment, before the data directory is touched, so
    that a port in use stops the start before migrations run or an admin token is made. Port 0
    (any free port) cannot be taken."""
    settings = hub.settings
    wanted = [("http", settings.http, "http"), ("grpc", settings.grpc, "grpc")]
    for plugin, table in settings.plugins.items():
        if table.get("listen"):
            wanted.append((f"{plugin} http", str(table["listen"]), f"plugins.{plugin}.listen"))
    seen: dict[tuple[str, int], str] = {}
    for label, address, key in wanted:
        host, port = parse_address(address, key)
        if port == 0:
            continue
        if (host, port) in seen:
            raise StartupError(f"{label} {address}: also the {seen[host, port]} address")
        seen[host, port] = label
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        try:
            socket.create_server((host, port), family=family).close()
        except OSError as exc:
            raise StartupError(f"{label} {address}: {exc.strerror or exc}") from None

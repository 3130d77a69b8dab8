"""Start everything, announce the listening addresses, drain and stop on SIGINT/SIGTERM."""

from __future__ import annotations

import asyncio
import logging
import signal
import socket
from typing import Any

from aiohttp import web

from hub.app import Hub
from hub.config import Settings, parse_address
from hub.graphql.schema import build_schema
from hub.graphql.view import GraphQLEndpoint
from hub.grpc.server import GrpcServer
from hub.http import parser
from hub.http.server import build_apps, own_listener
from hub.plugins import call_lifecycle

log = logging.getLogger("hub")


class Server:
    """A hub's listeners; ``start()`` binds and returns the real addresses."""

    def __init__(self, hub: Hub) -> None:
        self.hub = hub
        self.schema = build_schema(hub.graphql_parts, hub.settings.graphql)
        self.graphql = GraphQLEndpoint(hub, self.schema, hub.settings.graphql)
        self.main_app, self.own_apps = build_apps(hub, self.graphql.routes())
        self.main_app.on_shutdown.append(self._close_websockets)
        self.grpc = GrpcServer(hub)
        self.runners: list[web.AppRunner] = []
        self.addresses: dict[str, tuple[str, int]] = hub.listening  # plugins read them there

    async def _close_websockets(self, app: web.Application) -> None:
        self.hub.events.close()
        await self.graphql.strawberry_view.close_websockets()

    async def _serve_http(self, name: str, app: web.Application, address: str, key: str) -> None:
        host, port = parse_address(address, key)
        runner = web.AppRunner(
            app,
            access_log=None,
            shutdown_timeout=self.hub.settings.shutdown_timeout,
            handle_signals=False,
        )
        await runner.setup()
        sock = socket.create_server(
            (host, port),
            family=socket.AF_INET6 if ":" in host else socket.AF_INET,
            reuse_port=False,
        )
        site = web.SockSite(runner, sock)
        await site.start()
        self.runners.append(runner)
        self.addresses[name] = sock.getsockname()[:2]

    async def start(self) -> None:
        parser.install()
        await call_lifecycle(self.hub.pm, "startup", self.hub)
        settings = self.hub.settings
        await self._serve_http("http", self.main_app, settings.http, "http")
        for plugin, app in self.own_apps.items():
            address = own_listener(plugin, self.hub) or ""
            await self._serve_http(f"http:{plugin}", app, address, f"plugins.{plugin}.listen")
        host, port = parse_address(settings.grpc, "grpc")
        self.addresses["grpc"] = (host, self.grpc.bind(host, port))
        await self.grpc.start()
        self.hub.timers.add("hub", "grpc_health", 5.0, self.grpc.refresh_health)
        self.hub.timers.start()

    async def stop(self) -> None:
        """Stop accepting, let in-flight requests finish (up to ``shutdown_timeout``), then stop
        timers and tell plugins."""
        grace = self.hub.settings.shutdown_timeout
        await asyncio.gather(self.grpc.stop(grace), *(r.cleanup() for r in self.runners))
        await self.hub.timers.stop()
        await call_lifecycle(self.hub.pm, "shutdown", self.hub)
        self.hub.close()


def announce(server: Server, echo: Any = print) -> None:
    """``http listening on HOST:PORT``, ``grpc listening on HOST:PORT``, and for a plugin on a
    listener of its own ``<plugin> http listening on HOST:PORT``."""
    for name, (host, port) in server.addresses.items():
        label = f"{name.split(':')[1]} http" if name.startswith("http:") else name
        echo(f"{label} listening on {host}:{port}", flush=True)


async def serve(settings: Settings) -> None:
    hub = Hub(settings)
    if hub.admin_token_created:
        print(hub.admin_token_notice(), flush=True)
    server = Server(hub)
    try:
        await server.start()
    except BaseException:  # e.g. a port in use: undo what did start, tell plugins, then report
        await server.stop()
        raise
    announce(server)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("shutting down: draining in-flight requests")
    await server.stop()

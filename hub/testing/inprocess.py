"""A hub in the test's own process and event loop: :class:`hub.serve.Server` on loopback ports
0, so that a test reaches both the sockets and the ``Hub`` (its registrations, its services)."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator, Mapping
from pathlib import Path
from typing import Any

from hub.app import Hub
from hub.config import load_settings
from hub.serve import Server, build_server, running
from hub.testing.namespaces import database_env
from hub.testing.process import ADMIN_TOKEN


def _address(host: str, port: int) -> str:
    return f"[{host}]:{port}" if ":" in host else f"{host}:{port}"


class RunningHub:
    """A started in-process hub: ``url`` and ``grpc`` as :class:`~hub.testing.HubProcess`
    gives them, plus the ``hub`` itself and its ``server``."""

    def __init__(self, hub: Hub, server: Server) -> None:
        self.hub = hub
        self.server = server

    @property
    def url(self) -> str:
        return f"http://{_address(*self.hub.listening['http'])}"

    @property
    def grpc(self) -> str:
        return _address(*self.hub.listening["grpc"])

    def rest_url(self, plugin: str) -> str:
        """Where the plugin's REST routes start: ``<url>/<plugin>``, or the root of the
        plugin's own listener when its config sets ``listen``."""
        own = self.hub.listening.get(f"http:{plugin}")
        return f"http://{_address(*own)}" if own else f"{self.url}/{plugin}"

    def creds(self, plugin: str, **params: str) -> dict[str, Any]:
        """What ``hub creds add <plugin> --param k=v ...`` prints, made in-process."""
        return self.hub.credentials.issue(plugin, params)


@contextlib.asynccontextmanager
async def running_hub(
    data_dir: Path, env: Mapping[str, str] | None = None
) -> AsyncIterator[RunningHub]:
    """Serve a hub on the running loop until the block ends. ``env`` adds to the process
    environment as :class:`~hub.testing.HubProcess` does: ``HUB_PLUGINS`` picks the plugins,
    ``HUB_<PLUGIN>_<KEY>`` sets their options; the admin token is ``ADMIN_TOKEN``."""
    environ = {
        **os.environ,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        **database_env(data_dir, env),
        **(env or {}),
    }
    loopback = {"data_dir": str(data_dir), "http": "127.0.0.1:0", "grpc": "127.0.0.1:0"}
    hub = Hub(load_settings(overrides=loopback, env=environ), env=environ)
    async with running(build_server(hub)) as server:
        yield RunningHub(hub, server)

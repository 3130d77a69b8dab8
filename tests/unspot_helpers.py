"""Shared by the unspot tests: clients for the three protocols, the seed's bodies verbatim and a
tiny real RESP server on loopback for the redis probe."""

from __future__ import annotations

import asyncio
import json
import socketserver
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc

from tests.hubproc import ADMIN_TOKEN, HubProcess

BASE = "/unspot/api/external/v1/monitoring"
ADMIN = ADMIN_TOKEN

# The seed's error bodies, byte for byte (its JSON is indented by two spaces; the on-premise
# message is one line: the seed's line break is page layout, as the spec says).
SEED_401 = b'{\n  "message": "Invalid API token",\n  "errors": []\n}'
SEED_403 = b'{\n  "message": "Access denied",\n  "errors": []\n}'
SEED_429 = b'{\n  "message": "Too Many Requests",\n  "errors": []\n}'
SEED_NOT_ON_PREMISE = (
    b'{\n  "message": "System monitoring is only available for on-premise environment",\n'
    b'  "errors": []\n}'
)
SPEC_404 = b'{\n  "message": "Not Found",\n  "errors": []\n}'


def unspot_hub(data_dir: Path, **settings: str) -> HubProcess:
    """A hub whose unspot settings come from ``HUB_UNSPOT_<KEY>`` (``rate_window="1"``)."""
    env = {f"HUB_UNSPOT_{k.upper()}": v for k, v in settings.items()}
    return HubProcess(data_dir, env=env)


def new_token(hub: HubProcess, role: str = "owner", **params: str) -> str:
    return str(hub.creds("unspot", role=role, **params)["token"])


def bearer(token: str | None) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"} if token else {}


async def get(
    hub: HubProcess, path: str = "", token: str | None = None, headers: dict[str, str] | None = None
) -> tuple[int, dict[str, str], bytes]:
    """GET ``BASE + path``: status, headers and the body's exact bytes."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            hub.url + BASE + path, headers=headers if headers is not None else bearer(token)
        ) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def graphql(hub: HubProcess, query: str, token: str | None, **variables: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/graphql",
            json={"query": query, "variables": variables},
            headers=bearer(token),
        ) as resp,
    ):
        return await resp.json()


async def graphql_ok(
    hub: HubProcess, query: str, token: str | None = ADMIN, **variables: Any
) -> Any:
    result = await graphql(hub, query, token, **variables)
    assert "errors" not in result, result
    return result["data"]


def grpc_call(hub: HubProcess, method: str, request: Any, token: str | None = ADMIN) -> Any:
    from hub_unspot.v1 import unspot_pb2_grpc

    metadata = [("authorization", f"Bearer {token}")] if token else None
    with grpc.insecure_channel(hub.grpc) as channel:
        call = getattr(unspot_pb2_grpc.UnspotStub(channel), method)
        return call(request, metadata=metadata, timeout=10)


def grpc_error(hub: HubProcess, method: str, request: Any, token: str | None) -> grpc.RpcError:
    try:
        grpc_call(hub, method, request, token)
    except grpc.RpcError as exc:
        return exc
    raise AssertionError(f"{method} succeeded")


async def eventually(check: Callable[[], Awaitable[Any]], timeout: float = 10.0) -> Any:
    """Await ``check`` until it returns something truthy (probe caches are short in tests)."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value or time.monotonic() > deadline:
            return value
        await asyncio.sleep(0.05)


SYSTEM_QUERY = (
    "{ unspot { monitoring { system { redis database filesystem queue { name messages } } } } }"
)


async def system(hub: HubProcess, token: str = ADMIN) -> dict[str, Any]:
    data = await graphql_ok(hub, SYSTEM_QUERY, token)
    return data["unspot"]["monitoring"]["system"]  # type: ignore[no-any-return]


class RespServer:
    """A real (tiny) Redis protocol server on loopback: answers AUTH and PING the way Redis
    does and records every command, so a test sees the hub's probe really speak RESP."""

    def __init__(self, password: str | None = None) -> None:
        self.password = password
        self.commands: list[list[str]] = []
        self.refuse_ping = False  # answer PING with an error, as a Redis that needs AUTH would
        outer = self

        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                authed = outer.password is None
                while command := self.read_command():
                    outer.commands.append(command)
                    name = command[0].upper()
                    if name == "AUTH":
                        authed = command[-1] == outer.password
                        reply = b"+OK\r\n" if authed else b"-WRONGPASS invalid password\r\n"
                    elif name == "PING" and authed and not outer.refuse_ping:
                        reply = b"+PONG\r\n"
                    elif name == "PING":
                        reply = b"-NOAUTH Authentication required.\r\n"
                    else:
                        reply = b"-ERR unknown command\r\n"
                    self.wfile.write(reply)

            def read_command(self) -> list[str] | None:
                header = self.rfile.readline()
                if not header.startswith(b"*"):
                    return None
                parts = []
                for _ in range(int(header[1:])):
                    size = int(self.rfile.readline()[1:])
                    parts.append(self.rfile.read(size + 2)[:-2].decode())
                return parts

        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def body(raw: bytes) -> Any:
    return json.loads(raw)


BACKLOG_PLUGIN = '''"""A third-party plugin with one background queue whose depth the test sets."""
from pathlib import Path

from hub.hookspecs import hookimpl
from hub.registrations import BackgroundQueue

DEPTH = Path(__file__).with_name("backlog-depth")


@hookimpl
def register_queues(hub, register):
    register(BackgroundQueue("pending", lambda: int(DEPTH.read_text())))
'''


def backlog_plugin(directory: Path, depth: int = 0) -> Path:
    """Writes the ``backlog`` plugin into ``directory`` (for ``HUB_PLUGINS_DIR``); returns the
    file its queue depth is read from."""
    directory.mkdir(parents=True, exist_ok=True)
    (directory / "backlog.py").write_text(BACKLOG_PLUGIN)
    depth_file = directory / "backlog-depth"
    depth_file.write_text(str(depth))
    return depth_file

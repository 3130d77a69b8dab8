"""Hostile input to credentials and callers: a credential no client could send by accident (a
lone surrogate over a websocket, an argument that is not UTF-8) is refused as such, never a
500 or a traceback; an admin token set with stray whitespace is the token a client presents;
a trusted proxy written as an IPv4-mapped address is trusted when it connects."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from hub.app import Hub
from hub.config import Settings
from hub.credentials import sha256
from hub.graphql.schema import build_schema
from hub.graphql.view import GraphQLEndpoint
from hub.http.protocol import ConnectionLimits, HubRunner, Listener
from hub.http.server import build_apps
from hub.registrations import default_error_renderer
from hub.testing.process import HubProcess
from tests.test_caller import WHOAMI

ERA = "{ era { integrationPoints(first: 1) { totalCount } } }"


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("auth")).start()
    yield process
    process.stop()


async def websocket_refusal(url: str, init_payload: str) -> aiohttp.WSMessage:
    """What the hub answers a websocket whose ``connection_init`` payload is ``init_payload``
    (raw JSON, so it may hold what no JSON encoder here writes)."""
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url + "/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_str('{"type": "connection_init", "payload": ' + init_payload + "}")
        return await ws.receive(timeout=10)


@pytest.mark.parametrize("scheme", ["Bearer", "Basic", "\\ud800"])
async def test_a_lone_surrogate_on_a_websocket_is_refused_not_a_500(
    hub: HubProcess, scheme: str
) -> None:
    """JSON allows a lone surrogate; the hub's JSON reader refuses it over websockets as over
    HTTP (the socket closes 4400). Before, it reached the credential check, whose hashing
    failed: every operation on the socket was a 500 with a traceback."""
    answer = await websocket_refusal(hub.url, '{"Authorization": "' + scheme + ' \\ud800x"}')
    assert answer.type == aiohttp.WSMsgType.CLOSE and answer.data == 4400, answer
    assert "Traceback" not in "".join(hub.output)


def test_a_secret_holding_a_lone_surrogate_hashes_and_matches_nothing() -> None:
    """Should one reach the check another way, it is a value like any other (surrogatepass),
    not an exception."""
    assert sha256("\ud800x") != sha256("x") and len(sha256("\ud800x")) == 64


def test_creds_commands_refuse_arguments_that_are_not_utf8(hub: HubProcess) -> None:
    """``hub creds`` run with a byte that is not UTF-8 (Python sees a lone surrogate): one line
    naming it, nothing stored."""
    before = hub.cli("creds", "list", "webim").stdout
    added = hub.cli("creds", "add", "webim", "--param", "password=\udcff", check=False)
    assert added.returncode == 1 and "Traceback" not in added.stderr
    assert added.stderr.strip() == "Error: 'password': not UTF-8 text"
    added = hub.cli("creds", "add", "webim", "--param", "\udcff=x", check=False)
    assert added.returncode == 1 and "Traceback" not in added.stderr
    assert added.stderr.strip() == "Error: a parameter name: not UTF-8 text"
    assert hub.cli("creds", "list", "webim").stdout == before
    for command in ("revoke", "rotate"):
        ran = hub.cli("creds", command, "era", "id-\udcff", check=False)
        assert ran.returncode == 1 and "Traceback" not in ran.stderr
        assert "has no live credential 'id-\\udcff'" in ran.stderr


def test_an_admin_token_set_with_stray_whitespace_is_the_token_stripped(tmp_path: Path) -> None:
    """A token from a file or a secret store often ends in a newline; the header's value is
    read stripped, so the setting is too (as ``<data-dir>/admin-token`` always was)."""
    process = HubProcess(tmp_path, env={"HUB_ADMIN_TOKEN": "  spaced-admin-token\n"}).start()
    try:
        query = {"query": "{ hub { credentials { totalCount } } }"}

        async def ask() -> dict[str, Any]:
            headers = {"Authorization": "Bearer spaced-admin-token"}
            async with (
                aiohttp.ClientSession() as session,
                session.post(process.url + "/graphql", json=query, headers=headers) as response,
            ):
                answer: dict[str, Any] = await response.json()
                return answer

        answer = asyncio.run(ask())
        assert answer.get("data") == {"hub": {"credentials": {"totalCount": 0}}}, answer
    finally:
        process.stop()


# -- a trusted proxy by its IPv4-mapped address ----------------------------------------------
@pytest.fixture
def whoami_hub(tmp_path: Path) -> Iterator[Hub]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "whoami.py").write_text(WHOAMI)
    settings = Settings(
        data_dir=str(tmp_path / "data"),
        admin_token="admin",
        plugins_dir=str(plugins),
        plugins={"whoami": {"trusted_proxies": ["::ffff:127.0.0.0/104"]}},
    )
    running = Hub(settings, env={"HUB_PLUGINS": "whoami"})
    yield running
    running.close()


@pytest.fixture
async def dual_stack(whoami_hub: Hub) -> AsyncIterator[str]:
    """The hub on one dual-stack socket (``[::]``, IPv4 peers seen as ``::ffff:a.b.c.d``)."""
    graphql = whoami_hub.settings.graphql
    endpoint = GraphQLEndpoint(whoami_hub, build_schema(whoami_hub.graphql_parts, graphql), graphql)
    main, _ = build_apps(whoami_hub, endpoint.routes())
    limits = ConnectionLimits.from_settings(whoami_hub.settings)
    listener = Listener("http", default_error_renderer, None, limits, whoami_hub.metrics)
    runner = HubRunner(main, listener)
    await runner.setup()
    sock = socket.socket(socket.AF_INET6, socket.SOCK_STREAM)
    sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 0)
    sock.bind(("::", 0))
    site = web.SockSite(runner, sock)
    await site.start()
    yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    await runner.cleanup()


async def test_a_proxy_trusted_by_its_mapped_address_forwards_the_client(dual_stack: str) -> None:
    headers = {"X-Forwarded-For": "198.51.100.9, 127.0.0.5"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(dual_stack + "/whoami/whoami", headers=headers) as response,
    ):
        me = await response.json()
    assert me["address"] == "198.51.100.9"

"""Logins and passwords (HTTP Basic, webim's service logins) are checked with scrypt, slow on
purpose. The check runs off the event loop, a few at a time, so a client sending wrong passwords
cannot stall other clients' requests; an unknown login costs what a wrong password costs, so
how long a refusal takes does not tell which logins exist; every protocol still accepts the
right password and refuses a wrong one."""

from __future__ import annotations

import asyncio
import json
import re
import statistics
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aiohttp
import grpc
import pytest
from hub_webim.v1 import webim_pb2 as pb

from hub.testing.process import HubProcess
from tests.test_upstream_audit import PROBE, Request, WildVendor, http
from tests.webim_client import basic, graphql, rpc, rpc_error

MONITOR = "/webim/l/a/monitor"
STORM = 40  # wrong passwords sent at once


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path_factory.mktemp("password-checks")).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def login(hub: HubProcess) -> tuple[str, str]:
    cred = hub.creds("webim", kind="service", login="nagios")
    return cred["login"], cred["password"]


async def status_of(http: aiohttp.ClientSession, url: str, authorization: str) -> int:
    async with http.get(url, headers={"Authorization": authorization}) as response:
        await response.read()
        return response.status


async def test_wrong_passwords_do_not_stall_other_requests(
    hub: HubProcess, login: tuple[str, str]
) -> None:
    """Many wrong passwords arrive at once, then a health probe: the probe is answered before
    most of them. (Checked on the loop, the hub read the probe only after every one of them
    was refused, each scrypt in turn.)"""
    wrong = [basic(login[0], f"wrong-{i}") for i in range(STORM)]
    answered = await storm_then_probe(hub, MONITOR, wrong)
    assert sorted(answered) == sorted(["wrong 401"] * STORM + ["probe 200"]), answered
    assert answered.index("probe 200") < STORM // 2, answered


async def _median_refusal(url: str, authorizations: list[str]) -> float:
    times = []
    async with aiohttp.ClientSession() as http:
        for authorization in authorizations:
            started = time.perf_counter()
            assert await status_of(http, url, authorization) == 401
            times.append(time.perf_counter() - started)
    return statistics.median(times)


async def test_an_unknown_login_is_refused_as_slowly_as_a_wrong_password(
    hub: HubProcess, login: tuple[str, str]
) -> None:
    """Measured in the same run, alternately, each password new (a repeated one is refused
    from memory): before, an unknown login was refused without scrypt, some fifty times sooner."""
    url = hub.url + MONITOR
    known, unknown = [], []
    for i in range(4):
        known.append(
            await _median_refusal(url, [basic(login[0], f"guess-{i}-{j}") for j in (1, 2)])
        )
        unknown.append(await _median_refusal(url, [basic(f"nobody{i}", f"p-{j}") for j in (1, 2)]))
    ratio = statistics.median(unknown) / statistics.median(known)
    assert ratio > 0.5, (unknown, known)


async def test_every_protocol_takes_the_right_password_and_refuses_a_wrong_one(
    hub: HubProcess, login: tuple[str, str]
) -> None:
    right, wrong = basic(*login), basic(login[0], "not-it")
    async with aiohttp.ClientSession() as http:
        assert await status_of(http, hub.url + MONITOR, right) == 200
        assert await status_of(http, hub.url + MONITOR, wrong) == 401
        assert await status_of(http, hub.url + MONITOR, wrong) == 401  # remembered: the same

    query = "{ webim { instanceId } }"
    assert "errors" not in await graphql(hub, query, right)
    refused = await graphql(hub, query, wrong)
    assert refused["errors"][0]["extensions"]["code"] == "UNAUTHENTICATED", refused

    assert await rpc(hub, "GetMonitor", pb.Empty(), right)
    code, _ = await rpc_error(hub, "GetMonitor", pb.Empty(), wrong)
    assert code == grpc.StatusCode.UNAUTHENTICATED


async def test_a_revoked_login_is_refused_at_once(hub: HubProcess) -> None:
    """A password checked (and remembered) before its credential was revoked stops working on
    the very next request."""
    cred = hub.creds("webim", kind="service", login="revoked")
    right = basic(cred["login"], cred["password"])
    async with aiohttp.ClientSession() as http:
        assert await status_of(http, hub.url + MONITOR, right) == 200
        listed = json.loads(hub.cli("creds", "list", "webim").stdout)
        ident = next(c["id"] for c in listed if c.get("login") == "revoked")
        hub.cli("creds", "revoke", "webim", ident)
        assert await status_of(http, hub.url + MONITOR, right) == 401


# -- the hub's own endpoints: a write's state, asked with a plugin's login and password ------
LOGIN_PROBE = PROBE.replace(
    "register(CredentialType())",
    'register(CredentialType(login_param="login", validate=dict,'
    ' present=lambda secret, c: {"login": c.login, "password": secret}))',
)


@pytest.fixture
async def slow_vendor() -> AsyncIterator[WildVendor]:
    """A vendor whose writes are answered after the hub's ``write_wait``: each stays pending."""
    vendor = WildVendor()

    async def answer(request: Request, writer: asyncio.StreamWriter) -> None:
        if request.method == "POST":
            await asyncio.sleep(0.5)
        await http(201, b'{"id": 1}', b"Content-Type: application/json")(request, writer)

    vendor.answer = answer
    await vendor.start()
    yield vendor
    await vendor.stop()


async def test_wrong_passwords_for_a_writes_state_do_not_stall_other_requests(
    tmp_path: Path, slow_vendor: WildVendor
) -> None:
    """``/hub/upstream/writes/<id>`` shows a write to the login that made it: the hub's own
    endpoint, whose password was checked on the event loop (only a plugin's endpoints were
    checked off it), so wrong passwords stalled every request, as before for the plugins'."""
    assert LOGIN_PROBE.count('login_param="login"') == 1
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "probe.py").write_text(LOGIN_PROBE)
    env = {
        "HUB_PLUGINS": "probe",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_PROBE_MODE": "upstream",
        "HUB_PROBE_UPSTREAM_URL": f"http://127.0.0.1:{slow_vendor.port}",
        "HUB_PROBE_UPSTREAM_WRITE_WAIT": "0.2",
    }
    hub = HubProcess(tmp_path / "data", env=env).start()
    try:
        cred = hub.creds("probe", login="writer")
        right = basic(cred["login"], cred["password"])
        async with aiohttp.ClientSession() as http_session:
            url = hub.url + "/probe/write/x"
            async with http_session.post(url, data=b"{}", headers={"Authorization": right}) as r:
                assert r.status == 202, await r.text()
                write_id = re.search(r"poll write ([\w-]+)", await r.text())
            assert write_id is not None
            state = f"/hub/upstream/writes/{write_id[1]}"
            assert await status_of(http_session, hub.url + state, right) == 200
        answered = await storm_then_probe(
            hub, state, [basic("writer", f"wrong-{i}") for i in range(STORM)]
        )
        assert sorted(answered) == sorted(["wrong 404"] * STORM + ["probe 200"]), answered
        assert answered.index("probe 200") < STORM // 2, answered
    finally:
        hub.stop()


async def storm_then_probe(hub: HubProcess, path: str, authorizations: list[str]) -> list[str]:
    """Send ``path`` with each of ``authorizations`` at once, then ``/healthz``: each one's
    name and status in the order they were answered."""
    host, port = hub.url.removeprefix("http://").rsplit(":", 1)
    answered: list[str] = []

    async def exchange(name: str, path: str, authorization: str = "") -> None:
        reader, writer = connections.pop()
        head = f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n"
        if authorization:
            head += f"Authorization: {authorization}\r\n"
        writer.write((head + "\r\n").encode())
        status = (await reader.readline()).split()[1]
        await reader.read()
        writer.close()
        answered.append(f"{name} {status.decode()}")

    connections = [
        await asyncio.open_connection(host, int(port)) for _ in range(len(authorizations) + 1)
    ]
    storm = [asyncio.create_task(exchange("wrong", path, a)) for a in authorizations]
    await asyncio.sleep(0.02)  # every wrong password has been read
    await exchange("probe", "/healthz")
    await asyncio.gather(*storm)
    return answered

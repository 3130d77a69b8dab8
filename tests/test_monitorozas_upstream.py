"""Monitorozás in upstream mode, hub in front of hub: hub A runs monitorozas in local mode and is
the vendor (it checks its devices against a real HTTP target on loopback whose status the test
flips); hub B fronts it (``HUB_MONITOROZAS_MODE=upstream``) through a counting proxy that can
lose the vendor's answer after forwarding a write, hold it, or be down. Reads through B equal
A's over REST, GraphQL and gRPC; each write through B makes exactly one object on A, whatever
was lost on the way, B's SIGKILL included; A's status changes reach B's subscribers."""

from __future__ import annotations

import asyncio
import contextlib
import signal
import subprocess
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from aiohttp import web
from hub_monitorozas.v1 import monitorozas_pb2 as pb
from hub_monitorozas.v1 import monitorozas_pb2_grpc

from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.plugin import PostgresDatabases
from hub.v1 import hub_pb2, hub_pb2_grpc
from tests.hubproc import HubProcess
from tests.upstream_proxy import VendorProxy
from tests.upstream_support import until

API = "/monitorozas/api/v1"
DEVICE_FIELDS = (
    "id userId targetType targetValue serviceType scheme port hostHeader proxyEnabled originHost"
    " originScheme originPort checkPublicHttp checkPublicHttps checkPublicTls checkOriginHttp"
    " checkOriginTls expectStatus location isEnabled lastStatus lastCheckAt lastResponseMs"
    " lastError tlsExpiresAt createdAt updatedAt"
)
MONITOR_FIELDS = (
    "id userId targetType targetValue isEnabled lastStatus lastCheckAt listedOn"
    " listings { zone codes } lastError createdAt updatedAt"
)
READS = (
    "{ monitorozas { me { userId keyId scopes }"
    " devices(first: 2) { totalCount pageInfo { hasNextPage endCursor }"
    f" nodes {{ {DEVICE_FIELDS} }} }}"
    f" blacklistMonitors {{ totalCount nodes {{ {MONITOR_FIELDS} }} }} }} }}"
)
READ_AFTER = "query($c: String) { monitorozas { devices(after: $c) { nodes { id } } } }"
READ_ONE = (
    f"{{ monitorozas {{ device(id: 2) {{ {DEVICE_FIELDS} }} blacklistMonitor(id: 1) {{ id }} }} }}"
)
CREATE_DEVICE = (
    "mutation($i: MonitorozasDeviceInput!) { monitorozasCreateDevice(input: $i) { id } }"
)
CREATE_MONITOR = (
    "mutation($i: MonitorozasBlacklistMonitorInput!)"
    " { monitorozasCreateBlacklistMonitor(input: $i) { id targetValue } }"
)
DELETE_MONITOR = "mutation($id: Int!) { monitorozasDeleteBlacklistMonitor(id: $id) { id deleted } }"
WRITE_STATE = "query($id: ID!) { hub { upstreamWrite(id: $id) { status replyStatus } } }"
WATCH = (
    "subscription { monitorozasDeviceStatusChanged"
    " { previousStatus device { id lastStatus lastError } } }"
)
SSH = {"target_type": "domain", "target_value": "ssh.example.hu", "service_type": "ssh"}
SSH_INPUT = {"targetType": "domain", "targetValue": "ssh.example.hu", "serviceType": "ssh"}

Hub = RunningHub | HubProcess
VENDOR_DATABASE = ""  # hub A's own state on PostgreSQL, apart from B's (set for each test)


@pytest.fixture(autouse=True)
def vendor_database(hub_database: PostgresDatabases, monkeypatch: pytest.MonkeyPatch) -> None:
    """Hub A is another system than hub B: on PostgreSQL it gets a namespace of its own
    (``""`` on SQLite, where A's data directory is its own already)."""
    monkeypatch.setattr(sys.modules[__name__], "VENDOR_DATABASE", hub_database.new())


# -- the vendor side: a target to check, hub A, the proxy ----------------------------------------
class Target:
    """An HTTP server A's device checks: answers ``status`` (flip it to flip the device)."""

    def __init__(self) -> None:
        self.status = 200
        self.port = 0
        self.runner: web.AppRunner | None = None

    async def answer(self, request: web.Request) -> web.Response:
        return web.Response(status=self.status, text="target")

    async def __aenter__(self) -> Target:
        app = web.Application()
        app.router.add_get("/", self.answer)
        self.runner = web.AppRunner(app, access_log=None)
        await self.runner.setup()
        await web.TCPSite(self.runner, "127.0.0.1", 0).start()
        self.port = self.runner.addresses[0][1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


class LossyProxy(VendorProxy):
    """The counting proxy, plus what only writes need: ``lose`` the answers of that many writes
    after A acted on them (the connection is dropped), or ``hold`` every write's answer until
    the event is set."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.lose = 0
        self.hold: asyncio.Event | None = None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle(request)  # forwarded: A has acted on it
        if request.method != "GET" and self.lose:
            self.lose -= 1
            assert request.transport is not None
            request.transport.close()
        elif request.method != "GET" and self.hold is not None:
            await self.hold.wait()
        return response

    def writes(self, path_end: str) -> int:
        """Writes A received at paths ending so."""
        return sum(1 for h in self.hits if h.method != "GET" and h.path.endswith(path_end))


@dataclass
class Pair:
    """Hub A, the proxy in front of it with A's key for B (``vendor_key``), and hub B with a
    key of its own (``key``, read and write)."""

    a: RunningHub
    proxy: LossyProxy
    vendor_key: str
    b: RunningHub
    key: str

    async def both(self, method: str, path: str, body: Any = None) -> tuple[Any, Any]:
        """The same REST request to B (B's key) and to A (the vendor key): status and body."""
        via_b = await rest(self.b, method, path, self.key, body)
        via_a = await rest(self.a, method, path, self.vendor_key, body)
        return via_b[:2], via_a[:2]

    async def on_a(self, what: str = "devices") -> list[dict[str, Any]]:
        return await listed(self.a, self.vendor_key, what)

    async def on_b(self, what: str = "devices") -> list[dict[str, Any]]:
        return await listed(self.b, self.key, what)


@contextlib.asynccontextmanager
async def vendor(tmp_path: Path, **env: str) -> AsyncIterator[tuple[RunningHub, LossyProxy, str]]:
    """Hub A (checks every hour unless ``env`` says otherwise, so its data holds still), the
    proxy in front of it, and the vendor key B uses. A's own limit per key is out of the way:
    B's budget already paces B."""
    settings = {
        "HUB_PLUGINS": "monitorozas",
        "HUB_MONITOROZAS_INTERVAL": "3600",
        "HUB_MONITOROZAS_RATE_LIMIT": "100000",
        "HUB_DATABASE_URL": VENDOR_DATABASE,
        **env,
    }
    async with running_hub(tmp_path / "vendor", settings) as a, LossyProxy(a.url) as proxy:
        key = a.creds("monitorozas", user="vendor", scopes="read,write")["key"]
        yield a, proxy, str(key)


def front_env(proxy: VendorProxy, key: str, **settings: str) -> dict[str, str]:
    env = {
        "HUB_PLUGINS": "monitorozas",
        "HUB_MONITOROZAS_MODE": "upstream",
        "HUB_MONITOROZAS_UPSTREAM_URL": proxy.url + "/monitorozas",
        "HUB_MONITOROZAS_UPSTREAM_KEY": key,
        "HUB_MONITOROZAS_UPSTREAM_BUDGET": "50/s",
        "HUB_MONITOROZAS_UPSTREAM_POLL": "0.2",
        "HUB_MONITOROZAS_UPSTREAM_WRITE_WAIT": "3",
        "HUB_MONITOROZAS_UPSTREAM_WRITE_LEASE": "2",
        "HUB_MONITOROZAS_UPSTREAM_TIMEOUT": "5",
    }
    env.update({f"HUB_MONITOROZAS_UPSTREAM_{k.upper()}": v for k, v in settings.items()})
    return env


@contextlib.asynccontextmanager
async def pair(
    tmp_path: Path, front: dict[str, str] | None = None, **vendor_env: str
) -> AsyncIterator[Pair]:
    """The vendor (a local-mode hub behind a counting proxy) and a hub fronting it (``front``:
    its upstream settings on top of :func:`front_env`'s)."""
    async with (
        vendor(tmp_path, **vendor_env) as (a, proxy, vendor_key),
        running_hub(tmp_path / "b", front_env(proxy, vendor_key, **(front or {}))) as b,
    ):
        key = str(b.creds("monitorozas", user="client", scopes="read,write")["key"])
        yield Pair(a, proxy, vendor_key, b, key)


# -- clients -----------------------------------------------------------------------------------
def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


async def rest(
    hub: Hub, method: str, path: str, key: str, body: Any = None
) -> tuple[int, Any, dict[str, str]]:
    async with (
        aiohttp.ClientSession() as session,
        session.request(
            method, hub.url + API + path, headers=bearer(key), data=orjson.dumps(body)
        ) as response,
    ):
        return response.status, orjson.loads(await response.read()), dict(response.headers)


async def listed(hub: Hub, key: str, what: str = "devices") -> list[dict[str, Any]]:
    status, body, _ = await rest(hub, "GET", f"/{what}", key)
    assert status == 200, body
    return body["data"]  # type: ignore[no-any-return]


async def gql(hub: Hub, query: str, key: str, **variables: Any) -> Any:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/graphql",
            json={"query": query, "variables": variables},
            headers=bearer(key),
        ) as response,
    ):
        return await response.json()


async def gql_ok(hub: Hub, query: str, key: str, **variables: Any) -> Any:
    answer = await gql(hub, query, key, **variables)
    assert "errors" not in answer, answer
    return answer["data"]


def gql_error(answer: Any) -> dict[str, Any]:
    (error,) = answer["errors"]
    return error["extensions"]  # type: ignore[no-any-return]


@contextlib.asynccontextmanager
async def stub(hub: Hub) -> AsyncIterator[monitorozas_pb2_grpc.MonitorozasStub]:
    async with grpc.aio.insecure_channel(hub.grpc) as channel:
        yield monitorozas_pb2_grpc.MonitorozasStub(channel)


def md(key: str) -> tuple[tuple[str, str], ...]:
    return (("authorization", f"Bearer {key}"),)


def trailer(error: grpc.aio.AioRpcError, name: str) -> str:
    return str(dict(error.trailing_metadata() or ())[name])


async def settled(hub: Hub, write_id: str, key: str) -> dict[str, Any]:
    """The write's state over REST once it is no longer pending."""

    async def done() -> Any:
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{hub.url}/hub/upstream/writes/{write_id}", headers=bearer(key)) as r,
        ):
            assert r.status == 200, await r.text()
            state = await r.json()
        return state if state["status"] != "pending" else None

    return await until(done, f"write {write_id} delivered")  # type: ignore[no-any-return]


# -- 1. reads, writes and refusals over the three protocols ------------------------------------
async def test_reads_through_the_hub_equal_the_vendors(tmp_path: Path) -> None:
    # answers stay fresh for the whole test: with the default window (one budget interval,
    # 20 ms here) a slow machine could see one of these reads marked stale
    async with pair(tmp_path, front={"fresh": "60"}) as p:
        for i in range(3):
            device = {
                "target_type": "ip",
                "target_value": f"192.0.2.{i + 1}",
                "service_type": "web",
            }
            await rest(p.a, "POST", "/devices/create", p.vendor_key, device)
        monitor = {"target_type": "ip", "target_value": "192.0.2.9"}
        await rest(p.a, "POST", "/blacklist-monitors/create", p.vendor_key, monitor)

        for path in ("/me", "/devices", "/blacklist-monitors", "/devices?offset=1&limit=1"):
            via_b, via_a = await p.both("GET", path)
            assert via_b == via_a and via_b[0] == 200, path
            assert "Age" in (await rest(p.b, "GET", path, p.key))[2]

        answer = await gql(p.b, READS, p.key)
        assert answer["data"] == await gql_ok(p.a, READS, p.vendor_key)
        assert answer["extensions"]["upstream"]["monitorozas"]["stale"] is False
        cursor = answer["data"]["monitorozas"]["devices"]["pageInfo"]["endCursor"]
        via_b = await gql_ok(p.b, READ_AFTER, p.key, c=cursor)
        assert via_b == await gql_ok(p.a, READ_AFTER, p.vendor_key, c=cursor)
        assert await gql_ok(p.b, READ_ONE, p.key) == await gql_ok(p.a, READ_ONE, p.vendor_key)

        async with stub(p.a) as at_a, stub(p.b) as at_b:
            for call, request in (
                ("Me", pb.MeRequest()),
                ("ListDevices", pb.ListRequest(offset=1)),
                ("GetDevice", pb.IdRequest(id=3)),
                ("ListBlacklistMonitors", pb.ListRequest()),
                ("GetBlacklistMonitor", pb.IdRequest(id=1)),
            ):
                through_b = getattr(at_b, call)(request, metadata=md(p.key))
                assert await through_b == await getattr(at_a, call)(
                    request, metadata=md(p.vendor_key)
                )
                assert dict(await through_b.trailing_metadata())["hub-upstream-stale"] == "0"


async def test_writes_through_the_hub_land_once_and_are_read_back(tmp_path: Path) -> None:
    async with pair(tmp_path) as p, stub(p.a) as at_a, stub(p.b) as at_b:
        status, made, _ = await rest(p.b, "POST", "/devices/create", p.key, SSH)
        assert status == 201 and await p.on_a() == [made["data"]]
        assert await p.on_b() == [made["data"]]  # the write made the cached list stale

        mx = {"targetType": "domain", "targetValue": "mx.example.hu"}
        monitor = (await gql_ok(p.b, CREATE_MONITOR, p.key, i=mx))[
            "monitorozasCreateBlacklistMonitor"
        ]
        assert [m["target_value"] for m in await p.on_a("blacklist-monitors")] == ["mx.example.hu"]
        smtp = pb.DeviceInput(
            target_type="domain", target_value="smtp.example.hu", service_type="smtp"
        )
        device = await at_b.CreateDevice(smtp, metadata=md(p.key))
        assert device == await at_a.GetDevice(pb.IdRequest(id=device.id), metadata=md(p.vendor_key))
        assert (await at_b.GetDevice(pb.IdRequest(id=device.id), metadata=md(p.key))).port == 25
        assert p.proxy.writes("/devices/create") == 2
        assert p.proxy.writes("/blacklist-monitors/create") == 1

        gone = await at_b.DeleteDevice(pb.IdRequest(id=device.id), metadata=md(p.key))
        assert (gone.id, gone.deleted) == (device.id, True)
        deleted = await gql_ok(p.b, DELETE_MONITOR, p.key, id=monitor["id"])
        assert deleted["monitorozasDeleteBlacklistMonitor"] == {
            "id": monitor["id"],
            "deleted": True,
        }
        ident = made["data"]["id"]
        status, body, _ = await rest(p.b, "DELETE", f"/devices/delete?id={ident}", p.key)
        assert (status, body["data"]) == (200, {"id": ident, "deleted": True})
        assert await p.on_a() == await p.on_b() == []
        assert await p.on_a("blacklist-monitors") == await p.on_b("blacklist-monitors") == []
        assert p.proxy.writes("/delete") == 3


async def test_the_vendors_refusals_pass_through(tmp_path: Path) -> None:
    async with pair(tmp_path) as p, stub(p.b) as at_b:
        await rest(p.b, "POST", "/devices/create", p.key, SSH)
        # REST: the vendor's status and body, as they are
        for body in (SSH, {**SSH, "colour": "red"}, {"target_type": "ip"}, [1]):
            via_b, via_a = await p.both("POST", "/devices/create", body)
            assert via_b == via_a and via_b[0] in (400, 409), body
        via_b, via_a = await p.both("DELETE", "/devices/delete?id=99")
        assert via_b == via_a and via_b[1]["error"] == "device_not_found"
        # GraphQL and gRPC: the error table, the vendor's code as the reason
        refused = gql_error(await gql(p.b, CREATE_DEVICE, p.key, i=SSH_INPUT))
        assert (refused["code"], refused["status"]) == ("CONFLICT", 409)
        assert refused["reason"] == "duplicate_device"
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await at_b.DeleteBlacklistMonitor(pb.IdRequest(id=99), metadata=md(p.key))
        assert caught.value.code() is grpc.StatusCode.NOT_FOUND
        assert trailer(caught.value, "hub-reason") == "blacklist_monitor_not_found"

        # B's own keys still say who may write, before the vendor hears of it
        reader = str(p.b.creds("monitorozas", user="client", scopes="read")["key"])
        sent = len(p.proxy.hits)
        status, body, _ = await rest(p.b, "POST", "/devices/create", reader, SSH)
        assert (status, body["error"]) == (403, "insufficient_scope")
        assert len(p.proxy.hits) == sent

        # the vendor runs the checks: B's scheduler is not running, and has no history to give
        timers = {f"{t['plugin']}.{t['name']}" for t in p.b.hub.timers.stats()}
        assert "monitorozas.upstream.poll" in timers and "monitorozas.scheduler" not in timers
        status, body, _ = await rest(p.b, "GET", "/devices/history?id=1", p.key)
        assert (status, body["error"]) == (409, "upstream_mode")


async def test_the_vendor_refusing_the_hubs_key_passes_through(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, _):
        wrong = "not-the-vendor-key"
        async with running_hub(tmp_path / "b", front_env(proxy, wrong)) as b:
            key = str(b.creds("monitorozas", user="client", scopes="read,write")["key"])
            status, body, _ = await rest(b, "GET", "/devices", key)
            assert (status, body) == (await rest(a, "GET", "/devices", wrong))[:2]
            assert body["error"] == "invalid_api_key"
            refused = gql_error(await gql(b, "{ monitorozas { me { userId } } }", key))
            assert (refused["code"], refused["reason"]) == (
                "UNAUTHENTICATED",
                "upstream_unauthorized",
            )
            assert wrong not in str(refused)


# -- 2. status changes at the vendor reach B's subscribers -------------------------------------
async def next_change(ws: aiohttp.ClientWebSocketResponse) -> Any:
    message = await ws.receive_json(timeout=20)
    assert message["type"] == "next", message
    return message["payload"]["data"]["monitorozasDeviceStatusChanged"]


async def test_a_status_changed_at_the_vendor_reaches_a_subscriber(tmp_path: Path) -> None:
    checks = {"HUB_MONITOROZAS_INTERVAL": "0.5", "HUB_MONITOROZAS_SCHEDULER_TICK": "0.1"}
    async with Target() as target, vendor(tmp_path, **checks) as (a, proxy, vendor_key):
        web_check = {"scheme": "http", "port": target.port, "check_public_http": 1}
        site = {"target_type": "ip", "target_value": "127.0.0.1", "service_type": "web"}
        status, made, _ = await rest(a, "POST", "/devices/create", vendor_key, site | web_check)
        assert status == 201

        async def up_on_a() -> bool:
            return [d["last_status"] for d in await listed(a, vendor_key)] == ["up"]

        await until(up_on_a, "A checked its device: up")
        async with (
            running_hub(tmp_path / "b", front_env(proxy, vendor_key)) as b,
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{b.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
            stub(b) as at_b,
        ):
            # a key of B's own second user, not the vendor's user 1: every key of B sees the
            # vendor account
            b.creds("monitorozas", user="first", scopes="read")
            key = str(b.creds("monitorozas", user="watcher", scopes="read")["key"])
            await ws.send_json({"type": "connection_init", "payload": bearer(key)})
            assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": WATCH}})
            watch = at_b.WatchDeviceStatus(pb.WatchRequest(), metadata=md(key))

            async def polled() -> bool:
                return bool(proxy.times("/api/v1/devices", 200))

            await until(polled, "B polls the devices for its subscribers")
            target.status = 503
            change = await next_change(ws)  # the first answer was the baseline: no event for it
            assert change == {
                "previousStatus": "up",
                "device": {
                    "id": made["data"]["id"],
                    "lastStatus": "down",
                    "lastError": "public_http: HTTP 503, expected 200",
                },
            }
            seen = await asyncio.wait_for(watch.read(), 20)
            assert (seen.previous_status, seen.device.last_status) == ("up", "down")
            target.status = 200
            change = await next_change(ws)
            assert (change["previousStatus"], change["device"]["lastStatus"]) == ("down", "up")
            watch.cancel()


# -- 3. answers lost after the vendor acted, a vendor that is down -----------------------------
async def test_a_write_whose_answer_was_lost_is_delivered_once(tmp_path: Path) -> None:
    async with pair(tmp_path) as p, stub(p.b) as at_b:
        # REST: a 202 with the write's id; then the vendor's own object is the answer
        p.proxy.lose = 1
        status, pending, headers = await rest(p.b, "POST", "/devices/create", p.key, SSH)
        assert status == 202 and pending["status"] == "pending", pending
        assert headers["Location"] == f"/hub/upstream/writes/{pending['write_id']}"
        state = await settled(p.b, pending["write_id"], p.key)
        assert state["status"] == "done" and state["reply_status"] == 201
        (device,) = await p.on_a()
        assert orjson.loads(state["reply_body"]) == {"success": True, "data": device}
        # sent again, refused by the vendor's duplicate rule, found: one device on A
        assert p.proxy.writes("/devices/create") == 2
        assert await p.on_b() == [device]

        # GraphQL: WRITE_PENDING with the id to poll
        p.proxy.lose = 1
        ip = {"targetType": "ip", "targetValue": "192.0.2.7"}
        lost = gql_error(await gql(p.b, CREATE_MONITOR, p.key, i=ip))
        assert lost["code"] == "WRITE_PENDING"
        await settled(p.b, lost["writeId"], p.key)
        state = (await gql_ok(p.b, WRITE_STATE, p.key, id=lost["writeId"]))["hub"]
        assert state["upstreamWrite"] == {"status": "done", "replyStatus": 201}
        assert len(await p.on_a("blacklist-monitors")) == 1

        # gRPC: DEADLINE_EXCEEDED with the hub-write-id trailer
        p.proxy.lose = 1
        imap = pb.DeviceInput(
            target_type="domain", target_value="imap.example.hu", service_type="imap"
        )
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await at_b.CreateDevice(imap, metadata=md(p.key))
        assert caught.value.code() is grpc.StatusCode.DEADLINE_EXCEEDED
        write_id = trailer(caught.value, "hub-write-id")
        await settled(p.b, write_id, p.key)
        async with grpc.aio.insecure_channel(p.b.grpc) as channel:
            written = await hub_pb2_grpc.HubStub(channel).UpstreamWrite(
                hub_pb2.UpstreamWriteRequest(id=write_id), metadata=md(p.key)
            )
        assert (written.status, written.reply_status) == ("done", 201)
        assert [d["target_value"] for d in await p.on_a()] == ["ssh.example.hu", "imap.example.hu"]

        # a delete whose answer was lost: the resend's 404 is the delete's success
        p.proxy.lose = 1
        status, pending, _ = await rest(p.b, "DELETE", f"/devices/delete?id={device['id']}", p.key)
        assert status == 202
        state = await settled(p.b, pending["write_id"], p.key)
        assert state["reply_status"] == 200
        gone = {"success": True, "data": {"id": device["id"], "deleted": True}}
        assert orjson.loads(state["reply_body"]) == gone
        assert p.proxy.writes("/devices/delete") == 2
        assert [d["target_value"] for d in await p.on_a()] == ["imap.example.hu"]
        assert await p.on_b() == await p.on_a()


async def test_writes_wait_for_a_vendor_that_is_down(tmp_path: Path) -> None:
    async with pair(tmp_path) as p:
        await p.proxy.stop()
        status, pending, _ = await rest(p.b, "POST", "/devices/create", p.key, SSH)
        assert status == 202
        smtp = {"targetType": "domain", "targetValue": "smtp.example.hu", "serviceType": "smtp"}
        queued = gql_error(await gql(p.b, CREATE_DEVICE, p.key, i=smtp))
        assert queued["code"] == "WRITE_PENDING"
        await asyncio.sleep(1.5)
        await p.proxy.start()  # back on the same port
        for write_id in (pending["write_id"], queued["writeId"]):
            assert (await settled(p.b, write_id, p.key))["reply_status"] == 201
        names = sorted(d["target_value"] for d in await p.on_a())
        assert names == ["smtp.example.hu", "ssh.example.hu"]
        assert p.proxy.writes("/devices/create") == 2  # one each: none doubled


# -- 4. B killed while the vendor's answer is on its way ---------------------------------------
async def test_writes_survive_sigkills_of_the_hub_once_each(tmp_path: Path) -> None:
    async with vendor(tmp_path) as (a, proxy, vendor_key):
        env = front_env(proxy, vendor_key, write_wait="1")
        b = HubProcess(tmp_path / "b", env)
        key = str(b.creds("monitorozas", user="client", scopes="read,write")["key"])
        await asyncio.to_thread(b.start)
        try:
            write_ids = []
            for name in ("one", "two"):  # a loop of kills
                proxy.hold = asyncio.Event()
                body = {**SSH, "target_value": f"{name}.example.hu"}
                status, pending, _ = await rest(b, "POST", "/devices/create", key, body)
                assert status == 202, pending  # A made it; its answer is held
                assert len(await listed(a, vendor_key)) == len(write_ids) + 1
                b.stop(signal.SIGKILL)
                proxy.hold.set()
                proxy.hold = None
                write_ids.append(pending["write_id"])
                b = HubProcess(tmp_path / "b", env)  # the same data directory, new ports
                await asyncio.to_thread(b.start)
            for write_id in write_ids:
                state = await settled(b, write_id, key)
                assert state["reply_status"] == 201, state
            names = [d["target_value"] for d in await listed(a, vendor_key)]
            assert names == ["one.example.hu", "two.example.hu"]  # one each on A
            # each made once; every resend (one per kill, or more when a kill also lost a
            # resend's answer) was the vendor's duplicate, found by its 409
            made = [h.status for h in proxy.hits if h.path.endswith("/devices/create")]
            assert sorted(made) == [201, 201] + [409] * (len(made) - 2) and len(made) >= 4
        finally:
            await asyncio.to_thread(b.stop)


# -- 5. settings -------------------------------------------------------------------------------
BASE = {"HUB_MONITOROZAS_UPSTREAM_KEY": "k", "HUB_MONITOROZAS_UPSTREAM_URL": "http://127.0.0.1:9"}


@pytest.mark.parametrize(
    ("settings", "key"),
    [
        ({**BASE, "HUB_MONITOROZAS_UPSTREAM_KEY": ""}, "plugins.monitorozas.upstream.key"),
        ({**BASE, "HUB_MONITOROZAS_UPSTREAM_URL": ""}, "plugins.monitorozas.upstream.url"),
        (
            {**BASE, "HUB_MONITOROZAS_UPSTREAM_BUDGET": "often"},
            "plugins.monitorozas.upstream.budget",
        ),
        ({**BASE, "HUB_MONITOROZAS_MODE": "remote"}, "plugins.monitorozas.mode"),
    ],
)
def test_a_bad_upstream_setting_stops_the_start_naming_it(
    tmp_path: Path, settings: dict[str, str], key: str
) -> None:
    env = {"HUB_PLUGINS": "monitorozas", "HUB_MONITOROZAS_MODE": "upstream", **settings}
    hub = HubProcess(tmp_path / "data", env=env)
    serve = [sys.executable, "-m", "hub.cli", "--data-dir", str(hub.data_dir), "serve"]
    ports = ["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]
    done = subprocess.run([*serve, *ports], env=hub.env, capture_output=True, text=True, timeout=60)
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0 and "Traceback" not in output, output
    assert len([line for line in output.splitlines() if key in line]) == 1, output

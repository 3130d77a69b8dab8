"""The host's exactly-once writes (hub.upstream.writes), proven with a third-party plugin loaded
from ``plugins_dir`` in front of a real vendor server on loopback that misbehaves on demand: it
stores a POST and then drops the connection (the answer is lost), answers slowly, or is down.
Whatever happens, each write makes one object at the vendor, and the client that made it gets
the vendor's answer or a 202 with a write id whose state it can poll."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from aiohttp import web

from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN
from hub.v1 import hub_pb2, hub_pb2_grpc

RELAY = '''
"""A plugin in front of a vendor's /things: each POST is a write delivered exactly once; a write
whose answer was lost is looked up by name before it is sent again."""
from dataclasses import dataclass, field

import orjson
from aiohttp import web

from hub.caller import caller_of
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import RestApi
from hub.upstream import Reply, UpstreamSettings, Vendor, VendorAuth, Write, check_mode


@dataclass
class RelayUpstream(UpstreamSettings):
    budget: str = "100/s"


@dataclass
class RelaySettings:
    mode: str = "local"
    upstream: RelayUpstream = field(default_factory=RelayUpstream)

    def __post_init__(self):
        check_mode("relay", self.mode, self.upstream)


async def by_name(upstream, write, reply):
    if reply is not None:
        return None
    name = orjson.loads(write.body)["name"]
    found = await upstream.send(Write("GET", "/things", (("name", name),)))
    things = orjson.loads(found.body)
    if things:
        return Reply(201, "application/json", orjson.dumps(things[0]))
    return None


@hookimpl
def register_settings(register):
    register(RelaySettings)


@hookimpl
def register_credential_types(hub, register):
    register(CredentialType())


@hookimpl
def register_rest(hub, register):
    upstream = hub.upstream(
        "relay",
        Vendor(
            settings=hub.settings_for("relay").upstream,
            auth=VendorAuth(headers={"Authorization": "Bearer vendor-secret"}),
            reconcilers={"by_name": by_name},
        ),
    )

    async def create(request):
        caller = caller_of(request)
        caller.require()
        body = await request.read()
        reply = await upstream.write(
            caller,
            Write("POST", "/things", body=body, content_type="application/json",
                  reconcile="by_name", invalidates=("/things",)),
        )
        return web.Response(body=reply.body, status=reply.status, content_type="application/json")

    register(RestApi(routes=[web.post("/things", create)]))
'''


class Vendor:
    """The vendor: ``/things`` stored in memory; ``mode`` says how it treats the next POSTs."""

    def __init__(self) -> None:
        self.things: list[dict[str, Any]] = []
        self.posts = 0
        self.mode = "ok"  # ok | lose (store, then drop the connection) | slow
        self.auth: set[str] = set()
        self.runner: web.AppRunner | None = None
        self.port = 0

    async def post(self, request: web.Request) -> web.StreamResponse:
        self.posts += 1
        self.auth.add(request.headers.get("Authorization", ""))
        data = await request.json()
        if any(t["name"] == data["name"] for t in self.things):
            return web.json_response({"error": "duplicate"}, status=409)
        thing = {"id": len(self.things) + 1, "name": data["name"]}
        self.things.append(thing)
        if self.mode == "lose":
            assert request.transport is not None
            request.transport.close()  # stored, and the answer never leaves
            await asyncio.sleep(1)
        if self.mode == "slow":
            await asyncio.sleep(3)
        return web.json_response(thing, status=201)

    async def get(self, request: web.Request) -> web.Response:
        name = request.query.get("name")
        return web.json_response([t for t in self.things if name in (None, t["name"])])

    async def start(self) -> None:
        app = web.Application()
        app.add_routes([web.post("/things", self.post), web.get("/things", self.get)])
        self.runner = web.AppRunner(app)
        await self.runner.setup()
        site = web.TCPSite(self.runner, "127.0.0.1", self.port)
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        assert self.runner is not None
        await self.runner.cleanup()


@pytest.fixture
async def vendor() -> AsyncIterator[Vendor]:
    server = Vendor()
    await server.start()
    yield server
    if server.runner is not None:
        await server.runner.cleanup()


@pytest.fixture
async def relay(tmp_path: Path, vendor: Vendor) -> AsyncIterator[RunningHub]:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "relay.py").write_text(RELAY)
    env = {
        "HUB_PLUGINS": "relay",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_RELAY_MODE": "upstream",
        "HUB_RELAY_UPSTREAM_URL": f"http://127.0.0.1:{vendor.port}",
        "HUB_RELAY_UPSTREAM_WRITE_WAIT": "1.5",
        "HUB_RELAY_UPSTREAM_WRITE_LEASE": "2",
        "HUB_RELAY_UPSTREAM_TIMEOUT": "5",
        "HUB_RELAY_UPSTREAM_POLL": "0.2",
    }
    async with running_hub(tmp_path / "data", env) as hub:
        yield hub


async def post(hub: RunningHub, name: str, token: str) -> tuple[int, Any, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.rest_url("relay") + "/things",
            json={"name": name},
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return response.status, await response.json(), response.headers


async def write_state(hub: RunningHub, write_id: str, token: str) -> tuple[int, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(
            f"{hub.url}/hub/upstream/writes/{write_id}",
            headers={"Authorization": f"Bearer {token}"},
        ) as response,
    ):
        return response.status, await response.json()


async def settled(hub: RunningHub, write_id: str, token: str, timeout: float = 20) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status, state = await write_state(hub, write_id, token)
        assert status == 200, state
        if state["status"] != "pending":
            return state
        await asyncio.sleep(0.2)
    raise AssertionError(f"write {write_id} still pending: {state}")


async def test_a_write_reaches_the_vendor_once_and_answers_its_reply(
    relay: RunningHub, vendor: Vendor
) -> None:
    token = relay.creds("relay")["token"]
    status, body, _ = await post(relay, "lamp", token)
    assert (status, body) == (201, {"id": 1, "name": "lamp"})
    status, body, _ = await post(relay, "lamp", token)
    assert (status, body) == (409, {"error": "duplicate"})  # the vendor's own answer, as it is
    assert vendor.posts == 2 and len(vendor.things) == 1
    assert vendor.auth == {"Bearer vendor-secret"}  # the vendor's credential, not the client's


async def test_a_lost_answer_is_reconciled_not_sent_again(
    relay: RunningHub, vendor: Vendor
) -> None:
    token = relay.creds("relay")["token"]
    vendor.mode = "lose"
    status, body, headers = await post(relay, "chair", token)
    assert status == 202 and body["status"] == "pending"
    assert headers["Location"] == f"/hub/upstream/writes/{body['write_id']}"
    vendor.mode = "ok"
    state = await settled(relay, body["write_id"], token)
    assert state["status"] == "done" and state["reply_status"] == 201
    assert orjson.loads(state["reply_body"]) == {"id": 1, "name": "chair"}
    assert vendor.posts == 1, "the write was sent again instead of being found"
    assert [t["name"] for t in vendor.things] == ["chair"]


async def test_a_slow_vendor_gets_the_write_once_and_the_client_a_202(
    relay: RunningHub, vendor: Vendor
) -> None:
    token = relay.creds("relay")["token"]
    vendor.mode = "slow"
    status, body, _ = await post(relay, "desk", token)
    assert status == 202
    state = await settled(relay, body["write_id"], token)
    assert state["reply_status"] == 201 and vendor.posts == 1


async def test_writes_wait_for_a_vendor_that_is_down(relay: RunningHub, vendor: Vendor) -> None:
    token = relay.creds("relay")["token"]
    await vendor.stop()
    status, body, _ = await post(relay, "shelf", token)
    assert status == 202
    _, state = await write_state(relay, body["write_id"], token)
    assert state["status"] == "pending" and "unreachable" in state["last_error"]
    await vendor.start()  # the same port
    state = await settled(relay, body["write_id"], token)
    assert state["reply_status"] == 201
    assert vendor.posts == 1 and [t["name"] for t in vendor.things] == ["shelf"]


async def test_only_the_writer_and_the_admin_see_a_write(relay: RunningHub, vendor: Vendor) -> None:
    writer = relay.creds("relay")["token"]
    other = relay.creds("relay")["token"]
    vendor.mode = "slow"
    _, body, _ = await post(relay, "rug", writer)
    write_id = body["write_id"]
    assert (await write_state(relay, write_id, other))[0] == 404
    assert (await write_state(relay, "0" * 32, ADMIN_TOKEN))[0] == 404
    assert (await write_state(relay, write_id, ADMIN_TOKEN))[0] == 200
    query = f'{{ hub {{ upstreamWrite(id: "{write_id}") {{ status replyStatus }} }} }}'
    await settled(relay, write_id, writer)
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            relay.url + "/graphql",
            json={"query": query},
            headers={"Authorization": f"Bearer {writer}"},
        ) as response,
    ):
        got = await response.json()
    assert got["data"]["hub"]["upstreamWrite"] == {"status": "done", "replyStatus": 201}
    async with grpc.aio.insecure_channel(relay.grpc) as channel:
        stub = hub_pb2_grpc.HubStub(channel)
        state = await stub.UpstreamWrite(
            hub_pb2.UpstreamWriteRequest(id=write_id),
            metadata=[("authorization", f"Bearer {ADMIN_TOKEN}")],
        )
        assert state.status == "done" and state.reply_status == 201
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.UpstreamWrite(
                hub_pb2.UpstreamWriteRequest(id=write_id),
                metadata=[("authorization", f"Bearer {other}")],
            )
        assert refused.value.code() is grpc.StatusCode.NOT_FOUND

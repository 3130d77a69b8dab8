"""rop in upstream mode, hub in front of hub: hub A in local mode is the vendor (its REST surface
is ROP's), hub B fronts it through a counting proxy. Writes through B land on A exactly once
(also across SIGKILLs of B mid-write, and when A is down for a while), call-ready is read
through B, and A's result webhooks reach B's receivers, B's ``ropCallAnalyzed`` subscribers and
B's own signed webhooks, a repeated result stored once."""

from __future__ import annotations

import asyncio
import contextlib
import functools
import signal
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import grpc
import orjson
import pytest
from aiohttp import web
from hub_rop.v1 import rop_pb2

from hub.storage import Engine
from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.namespaces import database_env
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.rop_client import FAST, Rop, connected, from_grpc, uid, until
from tests.rop_fixtures import audio_fixture, receiver_fixture
from tests.rop_servers import AudioServer, WebhookReceiver
from tests.upstream_proxy import VendorProxy

UPLOAD = "/api/v1/calls/audio-upload"
CALL_READY = "/api/v1/tables/call-ready"
SECRET_A = "vendor-side-secret-0123456789"  # A signs with it; B's receivers need no signature
SECRET_B = "hub-side-secret-0123456789abc"  # B's own endpoints: the CRM checks it
STAGES = [{"id": "greeting", "name": "Greeting"}, {"id": "needs", "name": "Needs"}]
FIELDS = [{"name": "budget"}, {"name": "decision_maker"}]
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


class CountingProxy(VendorProxy):
    """The vendor proxy that also keeps what arrived (query and body), when it arrived."""

    def __init__(self, target: str) -> None:
        super().__init__(target)
        self.arrived: list[tuple[str, str, bytes, str]] = []  # path, query, body, content type

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.arrived.append(
            (request.path, request.query_string, body, request.headers.get("Content-Type", ""))
        )
        return await super()._handle(request)

    def count(self, path: str, status: int) -> int:
        return len(self.times(path, status))

    def bodies(self, path: str, needle: str) -> list[bytes]:
        return [body for p, _, body, _ in self.arrived if p == path and needle.encode() in body]


audio = audio_fixture()
# B's own webhook endpoints: a CRM subscribed at the hub, checking B's signature
crm = receiver_fixture({"/checklist": SECRET_B, "/table": SECRET_B}, name="crm")


def vendor_env() -> dict[str, str]:
    return {"HUB_PLUGINS": "rop", **FAST}


def upstream_env(proxy: VendorProxy, key: str, **extra: str) -> dict[str, str]:
    return {
        "HUB_PLUGINS": "rop",
        **FAST,
        "HUB_ROP_MODE": "upstream",
        "HUB_ROP_UPSTREAM_URL": proxy.url,
        "HUB_ROP_UPSTREAM_API_KEY": key,
        "HUB_ROP_UPSTREAM_WRITE_WAIT": "3",
        "HUB_ROP_UPSTREAM_WRITE_LEASE": "2",
        **{f"HUB_ROP_UPSTREAM_{k.upper()}": v for k, v in extra.items()},
    }


@contextlib.asynccontextmanager
async def vendor(tmp_path: Path) -> AsyncIterator[tuple[RunningHub, CountingProxy, str]]:
    """Hub A (local rop), the proxy in front of it, and a CRM key made on A for B to use."""
    async with running_hub(tmp_path / "a", vendor_env()) as a:
        proxy = CountingProxy(a.rest_url("rop"))
        async with proxy:
            yield a, proxy, a.creds("rop")["api_key"]


def fields(audio: AudioServer, call_id: str) -> dict[str, Any]:
    return {
        "manager_id": "mgr_001",
        "call_id": call_id,
        "deal_id": "deal_5678",
        "deal_stage_id": "stage_qualification",
        "audio_url": audio.url("/call.wav"),
        "duration": 2,
    }


def _camel(data: dict[str, Any]) -> dict[str, Any]:
    return {
        k.split("_")[0] + "".join(p.title() for p in k.split("_")[1:]): v for k, v in data.items()
    }


async def put_definitions(
    rop: Rop, ident: str, checklist_url: str, table_url: str, secret: str
) -> None:
    await rop.gql_data(
        "mutation($c: RopChecklistInput!, $t: RopTableInput!) {"
        " ropPutChecklist(input: $c) { id } ropPutTable(input: $t) { id } }",
        {
            "c": {
                "id": f"CHK_{ident}",
                "name": "Sales script",
                "stages": STAGES,
                "webhookUrl": checklist_url,
                "webhookSecret": secret,
            },
            "t": {
                "id": f"TBL_{ident}",
                "name": "Deal facts",
                "fields": FIELDS,
                "webhookUrl": table_url,
                "webhookSecret": secret,
            },
        },
        token=ADMIN_TOKEN,
    )


async def calls_on(rop: Rop) -> list[str]:
    data = await rop.gql_data(
        "{ rop { calls(first: 100) { nodes { callId } } } }", token=ADMIN_TOKEN
    )
    return [n["callId"] for n in data["rop"]["calls"]["nodes"]]


async def next_analyzed(ws: aiohttp.ClientWebSocketResponse) -> dict[str, Any]:
    message = await ws.receive_json(timeout=20)
    assert message["type"] == "next", message
    return message["payload"]["data"]["ropCallAnalyzed"]  # type: ignore[no-any-return]


async def test_writes_reads_and_received_results_over_three_protocols(
    tmp_path: Path, audio: AudioServer, crm: WebhookReceiver
) -> None:
    async with vendor(tmp_path) as (a, proxy, vendor_key):
        env = upstream_env(proxy, vendor_key)
        async with running_hub(tmp_path / "b", env) as b, connected(a) as ra, connected(b) as rb:
            await _scenario(a, b, ra, rb, proxy, vendor_key, audio, crm)


async def _scenario(
    a: RunningHub,
    b: RunningHub,
    ra: Rop,
    rb: Rop,
    proxy: CountingProxy,
    vendor_key: str,
    audio: AudioServer,
    crm: WebhookReceiver,
) -> None:
    ident = uid("x")
    checklist, table = f"CHK_{ident}", f"TBL_{ident}"
    # B: its own endpoints for ROP's checklist and table, and a receiver for each
    await put_definitions(rb, ident, crm.url("/checklist"), crm.url("/table"), SECRET_B)
    made = await rb.gql_data(
        'mutation($id: String!) { ropCreateReceiver(kind: "checklist", id: $id)'
        " { kind targetId path url received } }",
        {"id": checklist},
        token=ADMIN_TOKEN,
    )
    checklist_receiver = made["ropCreateReceiver"]
    assert checklist_receiver["kind"] == "checklist" and checklist_receiver["url"] is None
    made_table = from_grpc(
        await rb.rpc("CreateReceiver", rop_pb2.ReceiverRequest(kind="table", id=table), ADMIN_TOKEN)
    )
    assert made_table["target_id"] == table and made_table["path"].startswith("/rop/receivers/")
    # A, the vendor: the same checklist and table, posting their results to B's receivers
    await put_definitions(
        ra, ident, b.url + checklist_receiver["path"], b.url + made_table["path"], SECRET_A
    )
    key = b.creds("rop")["api_key"]  # a CRM's key at B: it never sees A's
    calls = [uid("rest"), uid("gql"), uid("grpc")]

    # -- writes through B, each landing on A once -------------------------------------------
    status, body, _ = await rb.upload(key, fields(audio, calls[0]))
    assert (status, body) == (200, {"status": "queued", "call_id": calls[0]})
    answer = await rb.gql(
        "mutation($i: RopUploadInput!) { ropUploadCall(input: $i) { status callId } }",
        {"i": _camel(fields(audio, calls[1]))},
        token=key,
    )
    assert answer["data"] == {"ropUploadCall": {"status": "queued", "callId": calls[1]}}
    request = rop_pb2.UploadCallRequest(**fields(audio, calls[2]))
    assert from_grpc(await rb.rpc("UploadCall", request, key)) == {
        "status": "queued",
        "call_id": calls[2],
    }
    assert proxy.count(UPLOAD, 200) == 3
    for path, query, _, content_type in proxy.arrived:  # the seed's curl: multipart
        assert path == UPLOAD and query == f"apiKey={vendor_key}"
        assert content_type.startswith("multipart/form-data; boundary=")
    assert sorted(await calls_on(ra)) == sorted(calls)
    assert sorted(await calls_on(rb)) == sorted(calls)  # kept at B as uploaded

    # -- the vendor's refusal: its body on REST, the table's mapping elsewhere ---------------
    status, body, _ = await rb.upload(key, fields(audio, calls[0]))
    direct = await ra.upload(vendor_key, fields(audio, calls[0]))
    assert (status, body) == (409, direct[1])
    assert body["error"] == "conflict"
    error = await rb.gql_error(
        "mutation($i: RopUploadInput!) { ropUploadCall(input: $i) { callId } }",
        {"i": _camel(fields(audio, calls[0]))},
        token=key,
    )
    assert error["extensions"]["code"] == "CONFLICT"
    assert error["extensions"]["reason"] == "upstream_conflict"
    failure = await rb.rpc_error("UploadCall", request, key)
    assert failure.code() == grpc.StatusCode.ALREADY_EXISTS
    status, body, _ = await rb.upload(key, {**fields(audio, uid()), "deal_id": ""})
    assert (status, body["error"]) == (400, "bad_request")  # checked at B: A never sees it
    assert proxy.count(UPLOAD, 409) == 3 and len(proxy.arrived) == 6

    # -- offices and managers ------------------------------------------------------------------
    offices = {
        "offices": [
            {
                "office_title": "Центр",
                "office_id": "office_001",
                "leader_ids": ["l1"],
                "managers_ids": ["m1", "m2"],
            }
        ]
    }
    status, body, _ = await rb.rest("POST", "/settings/offices-update", key, json=offices)
    assert (status, body) == (200, {"status": "ok", "offices": 1, "leaders": 1, "managers": 2})
    managers = [{"managerId": "m1", "name": "Иван", "surname": "Иванов", "middlename": ""}]
    answer = await rb.gql(
        "mutation($m: [RopManagerInput!]!) { ropUpdateManagers(managers: $m)"
        " { status received created updated } }",
        {"m": managers},
        token=key,
    )
    assert answer["data"]["ropUpdateManagers"] == {
        "status": "ok",
        "received": 1,
        "created": 1,
        "updated": 0,
    }
    again = rop_pb2.UpdateManagersRequest(
        managers=[rop_pb2.Manager(manager_id="m1", name="Иван", surname="Иванов")]
    )
    assert (await rb.rpc("UpdateManagers", again, key)).updated == 1
    on_a = await ra.gql_data(
        "{ rop { offices { officeId managersIds } managers { nodes { managerId name } } } }",
        token=ADMIN_TOKEN,
    )
    assert on_a["rop"]["offices"] == [{"officeId": "office_001", "managersIds": ["m1", "m2"]}]
    assert on_a["rop"]["managers"]["nodes"] == [{"managerId": "m1", "name": "Иван"}]
    local = await rb.gql_error("{ rop { offices { officeId } } }", token=key)
    assert local["extensions"]["reason"] == "upstream_mode"

    # -- call-ready through the cache, before any result ---------------------------------------
    await ra.call_in(calls[0], ADMIN_TOKEN, ("awaiting_analysis",))
    status, body, headers = await rb.rest(
        "GET", "/tables/call-ready", key, params={"tab": table, "call": calls[0]}
    )
    assert (status, body) == (200, {"ready": False})
    assert "Age" in headers
    status, body, _ = await rb.rest(
        "GET", "/tables/call-ready", key, params={"tab": table, "call": "no-such-call"}
    )
    direct = await ra.rest(
        "GET", "/tables/call-ready", vendor_key, params={"tab": table, "call": "no-such-call"}
    )
    assert (status, body) == (404, direct[1])
    error = await rb.gql_error(
        f'{{ rop {{ callReady(tab: "{table}", call: "no-such-call") {{ ready }} }} }}', token=key
    )
    assert error["extensions"]["code"] == "NOT_FOUND"
    assert error["extensions"]["reason"] == "upstream_not_found"
    asked = proxy.count(CALL_READY, 200)

    # -- A's results reach B: its receivers, its subscribers, its own webhooks -----------------
    async with rb.session.ws_connect(f"{b.url}/graphql", protocols=["graphql-transport-ws"]) as ws:
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {key}"}}
        )
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        query = (
            "subscription { ropCallAnalyzed { callId status managerId dealId"
            " checklistResults { checklistName totalScore maxScore stages { stageId status } }"
            " tableResults { tableId extractedData } } }"
        )
        await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})

        async def subscribed() -> bool:
            return bool(b.hub.events.subscribers("rop.call_analyzed"))

        await until(subscribed)
        await ra.gql_data(
            "mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { status } }",
            {
                "i": {
                    "callId": calls[0],
                    "checklists": [
                        {
                            "checklistId": checklist,
                            "stages": [
                                {"stageId": "greeting", "status": "completed", "comment": "ok"},
                                {"stageId": "needs", "status": "failed", "comment": "no"},
                            ],
                        }
                    ],
                    "tables": [
                        {
                            "tableId": table,
                            "extractedData": {"budget": "500", "decision_maker": "CFO"},
                        }
                    ],
                }
            },
            token=ADMIN_TOKEN,
        )
        seen = [await next_analyzed(ws), await next_analyzed(ws)]  # one per result received
    final = seen[-1]
    assert final["callId"] == calls[0] and final["status"] == "analyzed"
    assert final["dealId"] == "deal_5678"  # the upload through B is what B knows of the call
    assert final["checklistResults"] == [
        {
            "checklistName": "Sales script",
            "totalScore": 0,
            "maxScore": 2,
            "stages": [
                {"stageId": "greeting", "status": "completed"},
                {"stageId": "needs", "status": "failed"},
            ],
        }
    ]
    assert final["tableResults"] == [
        {"tableId": table, "extractedData": {"budget": "500", "decision_maker": "CFO"}}
    ]

    # B's own endpoints got each result once, signed with B's secret, A's very bytes
    delivered = await until(lambda: _both(crm))
    sent_by_a = _delivered_bodies(a)
    for got in delivered:
        assert got.signature_ok and got.headers["X-Hub-Event"] in (
            "checklist.result",
            "table.result",
        )
        assert got.body in sent_by_a

    # call-ready now answers from the received result on every protocol, without asking A
    status, body, _ = await rb.rest(
        "GET", "/tables/call-ready", key, params={"tab": table, "call": calls[0]}
    )
    assert (status, body) == (
        200,
        {"ready": True, "data": {"budget": "500", "decision_maker": "CFO"}},
    )
    data = await rb.gql_data(
        f'{{ rop {{ callReady(tab: "{table}", call: "{calls[0]}") {{ ready data }} }} }}',
        token=key,
    )
    assert data["rop"]["callReady"]["data"] == {"budget": "500", "decision_maker": "CFO"}
    ready = await rb.rpc("CallReady", rop_pb2.CallReadyRequest(tab=table, call=calls[0]), key)
    assert ready.ready and from_grpc(ready)["data"]["decision_maker"] == "CFO"
    assert proxy.count(CALL_READY, 200) == asked

    # the same result again (A redelivers it, or anyone posts it): stored once, not re-sent
    deliveries = await ra.gql_data(
        '{ rop { webhookDeliveries(status: "delivered") { nodes { id targetKind } } } }',
        token=ADMIN_TOKEN,
    )
    again_id = next(
        n["id"]
        for n in deliveries["rop"]["webhookDeliveries"]["nodes"]
        if n["targetKind"] == "checklist"
    )
    await ra.gql_data(
        "mutation($id: String!) { ropRedeliverWebhook(id: $id) { id } }",
        {"id": again_id},
        token=ADMIN_TOKEN,
    )

    async def redelivered() -> bool:
        state = await ra.gql_data(
            '{ rop { webhookDeliveries(status: "delivered") { nodes { id attempts } } } }',
            token=ADMIN_TOKEN,
        )
        return any(
            n["id"] == again_id and n["attempts"] == 1
            for n in state["rop"]["webhookDeliveries"]["nodes"]
        )

    await until(redelivered)
    checklist_body = next(body for body in sent_by_a if b'"checklist_name"' in body)
    async with rb.session.post(b.url + checklist_receiver["path"], data=checklist_body) as response:
        assert response.status == 200
        assert await response.json() == {"status": "duplicate", "call_id": calls[0]}
    listed = await rb.gql_data(
        "{ rop { receivers { kind targetId received path } } }", token=ADMIN_TOKEN
    )
    counts = {r["kind"]: r["received"] for r in listed["rop"]["receivers"]}
    assert counts == {"checklist": 1, "table": 1}
    assert all(r["path"] is None for r in listed["rop"]["receivers"])  # shown once
    await asyncio.sleep(0.5)  # room for a wrong second delivery to arrive
    assert len(crm.at("/checklist")) == 1 and len(crm.at("/table")) == 1
    async with rb.session.post(b.url + "/rop/receivers/not-a-token", data=b"{}") as response:
        assert response.status == 404
        assert (await response.json())["error"] == "not_found"


async def _both(crm: WebhookReceiver) -> list[Any] | None:
    got = crm.at("/checklist") + crm.at("/table")
    return got if len(got) == 2 else None


def _delivered_bodies(a: RunningHub) -> set[bytes]:
    """What A sent to B's receivers, read from A's outbox database."""
    rows = a.hub.database("rop").execute("SELECT body FROM webhook_deliveries").fetchall()
    return {bytes(row[0]) for row in rows}


async def write_state(rop: Rop, write_id: str, key: str) -> dict[str, Any] | None:
    """``GET /hub/upstream/writes/<id>`` as the credential that made the write, once done."""
    async with rop.session.get(
        f"{rop.hub.url}/hub/upstream/writes/{write_id}",
        headers={"Authorization": f"Bearer {key}"},
    ) as response:
        state = await response.json()
    return state if state.get("status") == "done" else None  # type: ignore[no-any-return]


async def test_vendor_down_writes_wait_then_land_once(tmp_path: Path, audio: AudioServer) -> None:
    async with vendor(tmp_path) as (a, proxy, vendor_key):
        env = upstream_env(proxy, vendor_key, write_wait="1", receiver_allow="10.0.0.0/8")
        async with running_hub(tmp_path / "b", env) as b, connected(a) as ra, connected(b) as rb:
            key = b.creds("rop")["api_key"]
            await proxy.stop()
            calls = [uid("rest"), uid("gql"), uid("grpc")]
            status, body, headers = await rb.upload(key, fields(audio, calls[0]))
            assert (status, body["status"]) == (202, "pending")
            assert headers["Location"] == body["location"]
            ids = [body["write_id"]]
            error = await rb.gql_error(
                "mutation($i: RopUploadInput!) { ropUploadCall(input: $i) { callId } }",
                {"i": _camel(fields(audio, calls[1]))},
                token=key,
            )
            assert error["extensions"]["code"] == "WRITE_PENDING"
            ids.append(error["extensions"]["writeId"])
            request = rop_pb2.UploadCallRequest(**fields(audio, calls[2]))
            failure = await rb.rpc_error("UploadCall", request, key)
            assert failure.code() == grpc.StatusCode.DEADLINE_EXCEEDED
            ids.append(dict(failure.trailing_metadata() or ())["hub-write-id"])
            for text in (str(body), str(error), str(failure.details())):
                assert vendor_key not in text  # the vendor's origin and path, never its key
            await proxy.start()
            for write_id in ids:
                state = await until(functools.partial(write_state, rb, write_id, key), 20)
                assert state["reply_status"] == 200
                assert orjson.loads(state["reply_body"])["status"] == "queued"
            assert proxy.count(UPLOAD, 200) == 3 and proxy.count(UPLOAD, 409) == 0
            assert sorted(await calls_on(ra)) == sorted(calls)

            # receivers only admit the addresses of receiver_allow
            made = await rb.gql_data(
                'mutation { ropCreateReceiver(kind: "table", id: "TBL_1") { path } }',
                token=ADMIN_TOKEN,
            )
            path = made["ropCreateReceiver"]["path"]
            async with rb.session.post(b.url + path, json={"call_id": "c"}) as response:
                assert response.status == 403
                assert (await response.json())["error"] == "forbidden"


async def test_sigkilled_mid_write_the_upload_lands_once(
    tmp_path: Path, audio: AudioServer
) -> None:
    """B is killed while its upload is on the wire (the proxy holds it, then hands it to A);
    the next B sends it again once its lease is over, reads A's 409 on the call_id as the
    first send having landed, and answers the write as A's 200."""
    async with vendor(tmp_path) as (a, proxy, vendor_key):
        proxy.delay = 1.0
        env = {
            **upstream_env(proxy, vendor_key, write_lease="1.5", public_url="https://hub.example"),
            "HUB_LOG_LEVEL": "INFO",
        }
        data = tmp_path / "b"
        calls = [uid("kill"), uid("kill")]
        outputs: list[str] = []
        key = HubProcess(data, env=env).creds("rop")["api_key"]  # before any B runs on it
        for call_id in calls:
            b = HubProcess(data, env=env).start()
            async with connected(b) as rb:
                upload = asyncio.ensure_future(rb.upload(key, fields(audio, call_id)))

                async def on_the_wire(call_id: str = call_id) -> bool:
                    return bool(proxy.bodies(UPLOAD, call_id))

                await until(on_the_wire)
                b.stop(signal.SIGKILL)
                with contextlib.suppress(aiohttp.ClientError):
                    await upload
            outputs += b.output
        b = HubProcess(data, env=env).start()
        try:
            for call_id in calls:
                await until(functools.partial(_written, data, call_id), timeout=30)
            made = b.cli("rop", "receiver-add", "checklist", "CHK_1").stdout
            assert '"url": "https://hub.example/rop/receivers/' in made
        finally:
            b.stop()
        outputs += b.output
        async with connected(a) as ra:
            assert set(calls) <= set(await calls_on(ra))
    sends = 0
    for call_id in calls:  # a resend on the wire when the next kill came is sent once more
        sent = proxy.bodies(UPLOAD, call_id)
        assert len(sent) >= 2 and set(sent) == {sent[0]}  # every resend is byte-identical
        sends += len(sent)
    assert proxy.count(UPLOAD, 200) == 2 and proxy.count(UPLOAD, 409) == sends - 2
    assert vendor_key not in "".join(outputs)


async def _written(data: Path, call_id: str) -> dict[str, Any] | None:
    """The write of ``call_id``'s upload in B's queue, once it is done with ROP's answer."""
    url = database_env(data, None).get("HUB_DATABASE_URL", "")
    db = Engine(data, url).open("_upstream")
    with contextlib.closing(db):
        for status, reply_status, reply_body, request in db.execute(
            "SELECT status, reply_status, reply_body, body FROM upstream_writes"
        ):
            if call_id.encode() in bytes(request) and status == "done":
                assert reply_status == 200
                reply = orjson.loads(reply_body)
                assert reply == {"status": "queued", "call_id": call_id}
                return reply  # type: ignore[no-any-return]
    return None


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"HUB_ROP_UPSTREAM_URL": "http://127.0.0.1:9"}, "plugins.rop.upstream.api_key"),
        (
            {"HUB_ROP_UPSTREAM_API_KEY": "k", "HUB_ROP_UPSTREAM_URL": "ftp://x"},
            "plugins.rop.upstream.url",
        ),
        (
            {
                "HUB_ROP_UPSTREAM_API_KEY": "k",
                "HUB_ROP_UPSTREAM_URL": "http://127.0.0.1:9",
                "HUB_ROP_UPSTREAM_RECEIVER_ALLOW": "10.0.0.0/8, nowhere",
            },
            "plugins.rop.upstream.receiver_allow[1]",
        ),
    ],
)
def test_a_bad_upstream_setting_stops_the_start_naming_it(
    tmp_path: Path, settings: dict[str, str], named: str
) -> None:
    env = {"HUB_PLUGINS": "rop", "HUB_ROP_MODE": "upstream", **settings}
    with pytest.raises(RuntimeError) as failed:
        HubProcess(tmp_path / "data", env=env).start()
    assert named in str(failed.value) and "Traceback" not in str(failed.value)

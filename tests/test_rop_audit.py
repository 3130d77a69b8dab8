"""Regression tests from an audit of ``rop``: results that name a checklist or table twice,
``extracted_data`` no protocol could give back, a webhook receiver's odd ``Retry-After`` on a 2xx,
an analyser plugin's refused answer, and results ROP posts to a receiver in upstream mode that
the hub could not store or show. Each against a real hub, over REST, GraphQL and gRPC."""

from __future__ import annotations

import asyncio
import base64
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from hub_rop.v1 import rop_pb2

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.rop_client import FAST, WEBHOOK_SECRET, Rop, analysed_call, connected, uid, until
from tests.rop_client import uploaded as upload_call
from tests.rop_fixtures import audio_fixture, hub_fixture, receiver_fixture, rop_fixture
from tests.rop_servers import AudioServer, WebhookReceiver

audio = audio_fixture()
receiver = receiver_fixture({"/odd-retry-after": WEBHOOK_SECRET})
hub = hub_fixture("rop-audit")
rop = rop_fixture()

SUBMIT = "mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { status } }"
CALL = """query($id: String!) { rop { call(callId: $id) { status
  checklistResults { checklistName } tableResults { extractedData } } } }"""


def nested(levels: int) -> Any:
    """``levels`` objects inside one another around a string."""
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


async def definitions(rop: Rop) -> tuple[str, str]:
    """A checklist of one stage and a table of one field, without webhooks: their ids."""
    made = await rop.gql_data(
        "mutation($c: RopChecklistInput!, $t: RopTableInput!) {"
        " ropPutChecklist(input: $c) { id } ropPutTable(input: $t) { id } }",
        {
            "c": {"id": uid("CHK"), "name": "Script", "stages": [{"id": "g", "name": "Greeting"}]},
            "t": {"id": uid("TBL"), "name": "Facts", "fields": [{"name": "budget"}]},
        },
        token=ADMIN_TOKEN,
    )
    return made["ropPutChecklist"]["id"], made["ropPutTable"]["id"]


async def waiting_call(rop: Rop, audio: AudioServer) -> tuple[str, str]:
    """A CRM key and a call of it downloaded and waiting for its analysis."""
    key = await rop.new_key()
    call_id = await upload_call(rop, key, audio.url("/call.wav"))
    await rop.call_in(call_id, key, ("awaiting_analysis",))
    return key, call_id


async def test_a_checklist_or_table_named_twice_in_one_result_is_400_and_stores_nothing(
    rop: Rop, audio: AudioServer
) -> None:
    checklist, table = await definitions(rop)
    key, call_id = await waiting_call(rop, audio)
    answer = {"checklistId": checklist, "stages": [{"stageId": "g", "status": "completed"}]}
    err = await rop.gql_error(
        SUBMIT, {"i": {"callId": call_id, "checklists": [answer, answer]}}, token=ADMIN_TOKEN
    )
    assert err["message"] == f"checklists[1].checklist_id: {checklist!r} is listed twice"
    assert err["extensions"]["code"] == "BAD_REQUEST" and err["extensions"]["status"] == 400
    rpc = await rop.rpc_error(
        "SubmitAnalysis",
        rop_pb2.Analysis(
            call_id=call_id,
            tables=[rop_pb2.TableAnswer(table_id=table), rop_pb2.TableAnswer(table_id=table)],
        ),
        ADMIN_TOKEN,
    )
    assert rpc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc.details() == f"tables[1].table_id: {table!r} is listed twice"
    call = (await rop.gql_data(CALL, {"id": call_id}, token=key))["rop"]["call"]
    assert call == {"status": "awaiting_analysis", "checklistResults": [], "tableResults": []}
    await rop.gql_data(SUBMIT, {"i": {"callId": call_id, "checklists": [answer]}}, ADMIN_TOKEN)


async def test_extracted_data_is_kept_within_what_every_protocol_can_give_back(
    rop: Rop, audio: AudioServer
) -> None:
    _, table = await definitions(rop)
    key, call_id = await waiting_call(rop, audio)

    def result(data: Any) -> dict[str, Any]:
        return {"i": {"callId": call_id, "tables": [{"tableId": table, "extractedData": data}]}}

    for levels in (300, 17):  # past the JSON encoder's limit; past a gRPC Struct's
        err = await rop.gql_error(SUBMIT, result({"budget": nested(levels - 1)}), ADMIN_TOKEN)
        assert err["extensions"]["code"] == "BAD_REQUEST", err
        assert err["message"] == (
            "tables[0].extracted_data: objects and arrays nested deeper than 16"
        )
    not_a_number = struct_pb2.Struct()
    not_a_number.update({"budget": float("nan")})
    rpc = await rop.rpc_error(
        "SubmitAnalysis",
        rop_pb2.Analysis(
            call_id=call_id,
            tables=[rop_pb2.TableAnswer(table_id=table, extracted_data=not_a_number)],
        ),
        ADMIN_TOKEN,
    )
    assert rpc.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert rpc.details() == "tables[0].extracted_data: nan is not a JSON number"
    call = (await rop.gql_data(CALL, {"id": call_id}, token=key))["rop"]["call"]
    assert call["status"] == "awaiting_analysis" and call["tableResults"] == []

    deepest = {"budget": nested(15)}  # 16 levels, extracted_data itself the first
    await rop.gql_data(SUBMIT, result(deepest), ADMIN_TOKEN)
    call = (await rop.gql_data(CALL, {"id": call_id}, token=key))["rop"]["call"]
    assert call["tableResults"] == [{"extractedData": deepest}]
    status, body, _ = await rop.rest(
        "GET", "/tables/call-ready", key, params={"tab": table, "call": call_id}
    )
    assert (status, body) == (200, {"ready": True, "data": deepest})
    ready = await rop.rpc("CallReady", rop_pb2.CallReadyRequest(tab=table, call=call_id), key)
    assert ready.ready
    got = await rop.rpc("GetCall", rop_pb2.GetCallRequest(call_id=call_id), key)
    assert got.table_results[0].extracted_data == ready.data
    listed = await rop.rpc("ListCalls", rop_pb2.ListCallsRequest(status="analyzed"), key)
    assert call_id in [c.call_id for c in listed.calls]


async def test_a_2xx_with_a_retry_after_float_cannot_read_is_delivered_once(
    rop: Rop, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    """``Retry-After: ²`` is a digit to ``str.isdigit``; reading it must not turn a delivered
    webhook into a failed attempt, sent again and again."""
    receiver.script("/odd-retry-after", ["200:²"])
    call_id = await analysed_call(rop, audio, receiver.url("/odd-retry-after"))

    async def settled() -> Any:
        data = await rop.gql_data(
            "{ rop { webhookDeliveries(first: 1000) { nodes { callId status attempts } } } }",
            token=ADMIN_TOKEN,
        )
        mine = [d for d in data["rop"]["webhookDeliveries"]["nodes"] if d["callId"] == call_id]
        return mine if mine and mine[0]["status"] != "pending" else None

    delivery = (await until(settled))[0]
    await asyncio.sleep(1.0)  # a retry would come within the test backoff of 0.1 s
    assert delivery == {"callId": call_id, "status": "delivered", "attempts": 1}
    assert len(receiver.at("/odd-retry-after")) == 1


# -- an analyser plugin whose answer the hub refuses ---------------------------------------------
REFUSED_ANALYSER = """
from hub.hookspecs import hookimpl

@hookimpl
def rop_analyze_call(call, audio_path, checklists, tables):
    return {"checklists": [{"checklist_id": "CHK_not_there", "stages": []}]}
"""


@pytest.fixture(scope="module")
def refusing_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    root = tmp_path_factory.mktemp("rop-audit-analyser")
    (root / "analysers").mkdir()
    (root / "analysers" / "refused_analyser.py").write_text(REFUSED_ANALYSER)
    env = {
        **FAST,
        "HUB_PLUGINS": "rop,refused_analyser",
        "HUB_PLUGINS_DIR": str(root / "analysers"),
    }
    process = HubProcess(root / "data", env=env).start()
    yield process
    process.stop()


async def test_an_analysers_refused_answer_is_one_log_line_not_a_traceback(
    refusing_hub: HubProcess, audio: AudioServer
) -> None:
    async with connected(refusing_hub) as client:
        key, call_id = await waiting_call(client, audio)

        async def logged() -> list[str]:
            return [line for line in refusing_hub.output if call_id in line]

        lines = await until(logged)
        await asyncio.sleep(0.3)  # whatever else the failure would print
        assert lines == [line for line in refusing_hub.output if call_id in line]
        assert len(lines) == 1 and "the analyser's result was refused" in lines[0], lines
        assert "checklists[0].checklist_id: no checklist 'CHK_not_there'" in lines[0]
        assert not [line for line in refusing_hub.output if "Traceback" in line]
        assert (await client.call(call_id, key))["status"] == "awaiting_analysis"


# -- upstream mode: what ROP posts to a receiver -----------------------------------------------
@pytest.fixture(scope="module")
def upstream_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    """rop fronting a ROP that is not there: receivers need nothing of it."""
    env = {
        **FAST,
        "HUB_PLUGINS": "rop",
        "HUB_ROP_MODE": "upstream",
        "HUB_ROP_UPSTREAM_URL": "http://127.0.0.1:9",
        "HUB_ROP_UPSTREAM_API_KEY": "rop-key",
    }
    process = HubProcess(tmp_path_factory.mktemp("rop-audit-upstream") / "data", env=env).start()
    yield process
    process.stop()


@pytest.fixture
async def fronting(upstream_hub: HubProcess) -> AsyncIterator[Rop]:
    async with connected(upstream_hub) as client:
        yield client


async def test_a_received_result_the_hub_could_not_store_or_show_is_400(
    fronting: Rop,
) -> None:
    made = await fronting.gql_data(
        'mutation { c: ropCreateReceiver(kind: "checklist", id: "CHK_1") { path }'
        ' t: ropCreateReceiver(kind: "table", id: "TBL_1") { path } }',
        token=ADMIN_TOKEN,
    )
    checklist_url = fronting.hub.url + made["c"]["path"]
    table_url = fronting.hub.url + made["t"]["path"]
    refused = [
        (checklist_url, {"timestamp": "0001-01-01T00:00:00+05:00"}, "timestamp: out of range"),
        (
            checklist_url,
            {"stages": [{"stage_id": "g", "timestamp": "9999-12-31T23:59:59-05:00"}]},
            "stages[0].timestamp: out of range",
        ),
        (checklist_url, {"total_score": 99_999_999_999}, "total_score: expected an integer"),
        (checklist_url, {"stages": [{"score": 2**64 - 1}]}, "stages[0].score: expected an"),
        (
            table_url,
            {"extracted_data": {"budget": nested(16)}},
            "extracted_data: objects and arrays nested deeper than 16",
        ),
    ]
    for url, fields, message in refused:
        call_id = uid()
        async with fronting.session.post(url, json={"call_id": call_id, **fields}) as answer:
            body = await answer.json()
            assert answer.status == 400, (fields, body)
            assert body["error"] == "bad_request" and body["message"].startswith(message), body
    good = {"call_id": uid(), "total_score": -1, "stages": [{"stage_id": "g", "score": -1}]}
    async with fronting.session.post(checklist_url, json=good) as answer:
        assert (answer.status, await answer.json()) == (
            200,
            {"status": "stored", "call_id": good["call_id"]},
        )
    listed = await fronting.gql_data(
        "{ rop { calls(first: 100) { nodes { callId checklistResults { totalScore } } } } }",
        token=ADMIN_TOKEN,
    )
    assert listed["rop"]["calls"]["nodes"] == [
        {"callId": good["call_id"], "checklistResults": [{"totalScore": -1}]}
    ]
    calls = await fronting.rpc("ListCalls", rop_pb2.ListCallsRequest(), ADMIN_TOKEN)
    assert [c.call_id for c in calls.calls] == [good["call_id"]]
    assert not [line for line in fronting.hub.output if "Traceback" in line]


async def _credential_ids(rop: Rop) -> set[str]:
    data = await rop.gql_data(
        '{ hub { credentials(plugin: "rop", first: 1000) { nodes { id } } } }', token=ADMIN_TOKEN
    )
    return {node["id"] for node in data["hub"]["credentials"]["nodes"]}


async def test_a_grpc_watch_ends_at_its_next_call_once_its_key_is_revoked(
    rop: Rop, audio: AudioServer
) -> None:
    checklist, _ = await definitions(rop)
    answer = {"checklistId": checklist, "stages": [{"stageId": "g", "status": "completed"}]}
    before = await _credential_ids(rop)
    watcher = await rop.new_key()
    (watcher_id,) = await _credential_ids(rop) - before
    stream = rop.stub.WatchCallAnalyzed(
        rop_pb2.WatchCallAnalyzedRequest(), metadata=(("authorization", f"Bearer {watcher}"),)
    )

    async def subscribed() -> bool:
        data = await rop.gql_data("{ hub { health { plugin detail } } }", token=ADMIN_TOKEN)
        detail = next(p["detail"] for p in data["hub"]["health"] if p["plugin"] == "rop")
        return "ropCallAnalyzed subscribers: 1" in detail

    await until(subscribed)
    _, first = await waiting_call(rop, audio)
    await rop.gql_data(SUBMIT, {"i": {"callId": first, "checklists": [answer]}}, ADMIN_TOKEN)
    async with asyncio.timeout(15):
        seen = await stream.read()
    assert seen.call_id == first
    revoke = 'mutation($id: ID!) { hubRevokeCredential(plugin: "rop", id: $id) { id } }'
    await rop.gql_data(revoke, {"id": watcher_id}, token=ADMIN_TOKEN)
    _, second = await waiting_call(rop, audio)
    await rop.gql_data(SUBMIT, {"i": {"callId": second, "checklists": [answer]}}, ADMIN_TOKEN)
    with pytest.raises(grpc.aio.AioRpcError) as ended:
        async with asyncio.timeout(15):
            while True:  # anything but the revoked key's error fails the test
                assert (await stream.read()).call_id != second
    assert ended.value.code() == grpc.StatusCode.UNAUTHENTICATED, ended.value

    async def unsubscribed() -> bool:
        return not await subscribed()

    await until(unsubscribed)


@pytest.mark.parametrize(
    ("setting", "value", "named"),
    [
        ("MAX_AUDIO_BYTES", str(2**31), "plugins.rop.max_audio_bytes: at most 2147483647"),
        ("UPSTREAM_PUBLIC_URL", "http://hub.example:99999/", "plugins.rop.upstream.public_url"),
    ],
)
def test_a_setting_no_protocol_could_carry_stops_the_start(
    tmp_path: Path, setting: str, value: str, named: str
) -> None:
    """A recording's size is a GraphQL Int (so no download may pass it); the public URL is
    where the vendor posts results (so it must be one a request could go to)."""
    env = {
        "HUB_PLUGINS": "rop",
        f"HUB_ROP_{setting}": value,
        **(
            {"HUB_ROP_MODE": "upstream", "HUB_ROP_UPSTREAM_URL": "http://127.0.0.1:9"}
            | {"HUB_ROP_UPSTREAM_API_KEY": "k"}
            if setting.startswith("UPSTREAM")
            else {}
        ),
    }
    with pytest.raises(RuntimeError) as failed:
        HubProcess(tmp_path / "data", env=env).start()
    assert named in str(failed.value) and "Traceback" not in str(failed.value)


async def test_a_password_in_audio_url_is_sent_to_the_file_host_and_shown_to_no_one(
    rop: Rop, audio: AudioServer
) -> None:
    """A CRM's file host may want a login in the URL. The hub fetches with it, but a call is
    read by every key that reads calls: it was shown whole over GraphQL and gRPC."""
    key = await rop.new_key()
    secret_url = audio.url("/call.wav").replace("http://", "http://crm:s3cret@")
    shown_url = audio.url("/call.wav").replace("http://", "http://crm:***@")
    call_id = await upload_call(rop, key, secret_url)
    await rop.call_in(call_id, key, ("awaiting_analysis",))
    sent = "Basic " + base64.b64encode(b"crm:s3cret").decode()
    assert audio.authorizations.count(sent) >= 2  # the probe and the download
    query = "query($id: String!) { rop { call(callId: $id) { audioUrl } } }"
    data = await rop.gql_data(query, {"id": call_id}, token=key)
    assert data["rop"]["call"]["audioUrl"] == shown_url
    listed = await rop.gql_data(
        "{ rop { calls(first: 100) { edges { node { audioUrl } } } } }", token=key
    )
    assert shown_url in [e["node"]["audioUrl"] for e in listed["rop"]["calls"]["edges"]]
    one = await rop.rpc("GetCall", rop_pb2.GetCallRequest(call_id=call_id), key)
    assert one.audio_url == shown_url
    page = await rop.rpc("ListCalls", rop_pb2.ListCallsRequest(limit=100), key)
    assert shown_url in [c.audio_url for c in page.calls]
    assert not any("s3cret" in c.audio_url for c in page.calls)

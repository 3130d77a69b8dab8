"""rop's outgoing webhooks against a real receiver: signed JSON POSTs, retries with backoff that
honours Retry-After, dead deliveries and their redelivery, the counts on every surface, and
at-least-once delivery across a SIGKILL of the hub (with a download resumed too)."""

from __future__ import annotations

import contextlib
import signal
from pathlib import Path
from typing import Any

import grpc
import orjson
import pytest
from hub_rop.v1 import rop_pb2

from hub.storage import Engine
from hub.testing.namespaces import database_env
from tests.hubproc import ADMIN_TOKEN
from tests.rop_client import (
    WEBHOOK_SECRET,
    Rop,
    analysed_call,
    connected,
    from_grpc,
    start_hub,
    until,
    uploaded,
)
from tests.rop_fixtures import audio_fixture, hub_fixture, receiver_fixture, rop_fixture
from tests.rop_servers import AudioServer, Received, WebhookReceiver

PATHS = ("/retry", "/reject", "/down", "/hold", "/later")
DELIVERY = """{ rop { webhookDeliveries(first: 1000) { nodes {
  id event callId targetKind targetId url status attempts lastStatus lastError } } } }"""

audio = audio_fixture()
receiver = receiver_fixture(dict.fromkeys(PATHS, WEBHOOK_SECRET))
hub = hub_fixture("rop-webhooks")
rop = rop_fixture()


async def deliveries(rop: Rop, call_id: str) -> list[dict[str, Any]]:
    nodes = (await rop.gql_data(DELIVERY, token=ADMIN_TOKEN))["rop"]["webhookDeliveries"]["nodes"]
    return [n for n in nodes if n["callId"] == call_id]


async def settled(rop: Rop, call_id: str, count: int = 1) -> list[dict[str, Any]]:
    async def check() -> list[dict[str, Any]] | None:
        mine = await deliveries(rop, call_id)
        done = [d for d in mine if d["status"] in ("delivered", "dead")]
        return mine if len(done) == count else None

    return await until(check, timeout=20)  # type: ignore[no-any-return]


def hits(receiver: WebhookReceiver, path: str, call_id: str) -> list[Received]:
    return [r for r in receiver.at(path) if orjson.loads(r.body)["call_id"] == call_id]


async def test_failures_timeouts_and_429_are_retried_until_delivered(
    rop: Rop, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    receiver.script("/retry", ["500", "hang", "429:1", "200"])
    call_id = await analysed_call(rop, audio, receiver.url("/retry"))
    (delivery,) = await settled(rop, call_id)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatus"]) == (
        "delivered",
        4,
        200,
    )
    seen = hits(receiver, "/retry", call_id)
    assert [r.answered for r in seen] == [500, None, 429, 200]
    assert {r.headers["X-Hub-Delivery"] for r in seen} == {delivery["id"]}
    assert all(r.signature_ok for r in seen)
    assert all(r.headers["X-Hub-Event"] == "checklist.result" for r in seen)
    assert seen[3].at - seen[2].at >= 0.99  # Retry-After: 1 outweighs the 0.1 s backoff
    assert {r.body for r in seen} == {seen[0].body}  # the same signed bytes every time


async def test_other_4xx_is_dead_at_once_and_redelivery_is_admin_only(
    rop: Rop, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    receiver.script("/reject", ["400"])
    call_id = await analysed_call(rop, audio, receiver.url("/reject"))
    (delivery,) = await settled(rop, call_id)
    assert (delivery["status"], delivery["attempts"], delivery["lastStatus"]) == ("dead", 1, 400)
    assert delivery["lastError"] == "HTTP 400"
    crm = await rop.new_key()
    redeliver = "mutation($id: String!) { ropRedeliverWebhook(id: $id) { id status attempts } }"
    err = await rop.gql_error(redeliver, {"id": delivery["id"]}, token=crm)
    assert err["extensions"]["code"] == "FORBIDDEN"
    err = await rop.gql_error(redeliver, {"id": "nope"}, token=ADMIN_TOKEN)
    assert (err["extensions"]["code"], err["message"]) == (
        "NOT_FOUND",
        "id: no webhook delivery 'nope'",
    )
    receiver.script("/reject", ["200"])
    again = await rop.gql_data(redeliver, {"id": delivery["id"]}, token=ADMIN_TOKEN)
    assert again["ropRedeliverWebhook"]["status"] == "pending"
    (delivered,) = await settled(rop, call_id)
    assert delivered["status"] == "delivered"
    assert [r.headers["X-Hub-Delivery"] for r in hits(receiver, "/reject", call_id)] == [
        delivery["id"]
    ] * 2


async def test_5xx_until_the_attempts_run_out_is_dead_then_redelivered_over_grpc(
    rop: Rop, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    receiver.script("/down", ["503"])
    call_id = await analysed_call(rop, audio, receiver.url("/down"))
    (delivery,) = await settled(rop, call_id)
    assert (delivery["status"], delivery["attempts"]) == ("dead", 4)  # HUB_ROP_WEBHOOK_MAX_ATTEMPTS
    dead = from_grpc(
        await rop.rpc(
            "ListWebhookDeliveries",
            rop_pb2.ListWebhookDeliveriesRequest(status="dead", limit=1000),
            ADMIN_TOKEN,
        )
    )
    assert delivery["id"] in {d["id"] for d in dead["deliveries"]}
    counts = (
        await rop.gql_data(
            "{ rop { webhookCounts { pending failed dead delivered } } }", token=ADMIN_TOKEN
        )
    )["rop"]["webhookCounts"]
    grpc_counts = from_grpc(
        await rop.rpc("WebhookCounts", rop_pb2.WebhookCountsRequest(), ADMIN_TOKEN)
    )
    assert {k: int(v) for k, v in grpc_counts.items()} == counts
    assert counts["dead"] >= 1
    async with rop.session.get(f"{rop.hub.url}/metrics") as r:
        metrics = await r.text()
    assert f'hub_rop_webhook_deliveries{{state="dead"}} {float(counts["dead"])}' in metrics
    assert 'hub_queue_depth{queue="rop.webhooks"}' in metrics
    assert 'hub_queue_depth{queue="rop.audio"}' in metrics
    rpc = await rop.rpc_error(
        "RedeliverWebhook", rop_pb2.RedeliverWebhookRequest(id=delivery["id"]), await rop.new_key()
    )
    assert rpc.code() == grpc.StatusCode.PERMISSION_DENIED
    receiver.script("/down", ["200"])
    redone = from_grpc(
        await rop.rpc(
            "RedeliverWebhook", rop_pb2.RedeliverWebhookRequest(id=delivery["id"]), ADMIN_TOKEN
        )
    )
    assert (redone["status"], redone["attempts"]) == ("pending", "0")
    (delivered,) = await settled(rop, call_id)
    assert (delivered["status"], delivered["attempts"]) == ("delivered", 1)


async def test_deliveries_survive_a_sigkill(
    tmp_path: Path, audio: AudioServer, receiver: WebhookReceiver
) -> None:
    """One delivery in flight (claimed, never recorded), one waiting behind it (concurrency 1)
    and one download half done when the hub is killed; after a restart all three finish."""
    data_dir = tmp_path / "data"
    env = {
        "HUB_ROP_WEBHOOK_CONCURRENCY": "1",
        "HUB_ROP_WEBHOOK_TIMEOUT": "3",
        "HUB_ROP_WEBHOOK_LEASE": "3.5",
    }
    receiver.script("/hold", ["hold", "200"])
    hub = start_hub(data_dir, **env)
    try:
        async with connected(hub) as rop:
            call_id = await analysed_call(rop, audio, receiver.url("/hold"), receiver.url("/later"))
            held = call_id
            await until(lambda: _async(hits(receiver, "/hold", held)))
            audio.gate.clear()
            key = await rop.new_key()
            gated = await uploaded(rop, key, audio.url("/gated.wav"))
            await until(
                lambda: _async(
                    sum(1 for p, r in audio.requests if p == "/gated.wav" and r is None) >= 1
                )
            )
            hub.stop(signal.SIGKILL)
    finally:
        hub.stop(signal.SIGKILL)
    url = database_env(data_dir, None).get("HUB_DATABASE_URL", "")
    with contextlib.closing(Engine(data_dir, url).open("rop")) as db:
        rows = db.execute(
            "SELECT target_kind, status, attempts, claimed_until IS NOT NULL"
            " FROM webhook_deliveries WHERE call_id = ? ORDER BY seq",
            (call_id,),
        ).fetchall()
        download = db.execute("SELECT status FROM calls WHERE call_id = ?", (gated,)).fetchone()
    assert rows == [("checklist", "pending", 0, 1), ("table", "pending", 0, 0)]
    assert download == ("downloading",)
    receiver.release()
    audio.gate.set()
    hub = start_hub(data_dir, **env)
    try:
        async with connected(hub) as rop:
            done = await settled(rop, call_id, count=2)
            assert {d["status"] for d in done} == {"delivered"}
            checklist = next(d for d in done if d["targetKind"] == "checklist")
            seen = hits(receiver, "/hold", call_id)
            assert [r.headers["X-Hub-Delivery"] for r in seen] == [checklist["id"]] * 2
            assert seen[-1].answered == 200 and all(r.signature_ok for r in seen)
            assert len(hits(receiver, "/later", call_id)) == 1
            call = await rop.call_in(gated, key, ("awaiting_analysis",))
            assert call["duration"] == pytest.approx(2.0)
    finally:
        hub.stop()


async def _async(value: Any) -> Any:
    return value

"""Throughput of the ``rop`` plugin's two kinds of real work, against a real hub.

Run ``python bench/rop_bench.py`` (``--help`` for the options). One run:

1. starts a hub (``tests.hubproc.HubProcess``) on a temporary data dir with only ``rop``
   loaded, a rate limit high enough not to interfere and short job intervals, plus two local
   servers in threads of this process: an audio file server and a webhook receiver that
   verifies every signature (``tests/rop_servers.py``);
2. **audio-upload**: ``--uploads`` POSTs of the seed's multipart form from ``--concurrency``
   workers on one keep-alive session; each one makes the hub fetch the start of a real WAV
   (a ranged GET), check its magic bytes and queue the call. Figure: requests per second;
3. waits until the background downloads and duration reads of those calls are done;
4. **webhooks**: ``--checklists`` checklists post to the receiver; results for ``--calls``
   calls are submitted over gRPC, so ``calls x checklists`` deliveries are written to the
   outbox and sent by the hub's timer job. Figure: deliveries per second from the first
   submission until the receiver has answered 2xx to every one (end to end: outbox write,
   claim, signed POST over loopback, record).

The servers and the load generator share this process (and its GIL); the hub runs alone in
its own. Figures vary with the machine; nothing is asserted.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import grpc

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from hub_rop.v1 import rop_pb2, rop_pb2_grpc  # noqa: E402

from tests.hubproc import ADMIN_TOKEN, HubProcess  # noqa: E402
from tests.rop_servers import AudioServer, WebhookReceiver  # noqa: E402

SECRET = "bench-webhook-secret-0123456789"
ENV = {
    "HUB_PLUGINS": "rop",
    "HUB_ROP_RATE_LIMIT": "100000000",
    "HUB_ROP_INTAKE_INTERVAL": "0.02",
    "HUB_ROP_INTAKE_CONCURRENCY": "16",
    "HUB_ROP_WEBHOOK_INTERVAL": "0.01",
    "HUB_ROP_WEBHOOK_CONCURRENCY": "64",
}


async def graphql(
    session: aiohttp.ClientSession, url: str, query: str, variables: dict[str, Any] | None = None
) -> Any:
    async with session.post(
        f"{url}/graphql",
        json={"query": query, "variables": variables or {}},
        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
    ) as r:
        answer = await r.json()
    if answer.get("errors"):
        raise RuntimeError(answer["errors"])
    return answer["data"]


async def uploads(
    session: aiohttp.ClientSession, url: str, key: str, audio_url: str, count: int, concurrency: int
) -> tuple[list[str], float]:
    call_ids = [f"bench_{uuid.uuid4().hex[:12]}" for _ in range(count)]
    queue = list(call_ids)

    async def worker() -> None:
        while queue:
            call_id = queue.pop()
            form = aiohttp.FormData()
            for name, value in (
                ("manager_id", "mgr_001"),
                ("call_id", call_id),
                ("deal_id", "deal_5678"),
                ("deal_stage_id", "stage_1"),
                ("audio_url", audio_url),
            ):
                form.add_field(name, value)
            async with session.post(
                f"{url}/rop/api/v1/calls/audio-upload", params={"apiKey": key}, data=form
            ) as r:
                if r.status != 200:
                    raise RuntimeError(f"upload answered {r.status}: {await r.text()}")

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return call_ids, time.perf_counter() - started


async def wait_downloaded(session: aiohttp.ClientSession, url: str, count: int) -> float:
    started = time.perf_counter()
    query = '{ rop { calls(first: 0, status: "awaiting_analysis") { totalCount } } }'
    while (await graphql(session, url, query))["rop"]["calls"]["totalCount"] < count:
        await asyncio.sleep(0.1)
    return time.perf_counter() - started


async def deliveries(
    hub: HubProcess,
    receiver: WebhookReceiver,
    checklists: list[str],
    call_ids: list[str],
    concurrency: int,
) -> tuple[int, float]:
    channel = grpc.aio.insecure_channel(hub.grpc)
    stub = rop_pb2_grpc.RopStub(channel)
    metadata = (("authorization", f"Bearer {ADMIN_TOKEN}"),)
    queue = list(call_ids)
    expected = len(call_ids) * len(checklists)

    async def worker() -> None:
        while queue:
            call_id = queue.pop()
            await stub.SubmitAnalysis(
                rop_pb2.Analysis(
                    call_id=call_id,
                    checklists=[
                        rop_pb2.ChecklistAnswer(
                            checklist_id=c,
                            stages=[
                                rop_pb2.StageAnswer(stage_id="greeting", status="completed"),
                                rop_pb2.StageAnswer(stage_id="closing", status="failed"),
                            ],
                        )
                        for c in checklists
                    ],
                ),
                metadata=metadata,
            )

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    while len(receiver.at("/bench")) < expected:
        await asyncio.sleep(0.01)
    elapsed = time.perf_counter() - started
    await channel.close()
    received = receiver.at("/bench")
    if not all(r.signature_ok and r.answered == 200 for r in received):
        raise RuntimeError("a delivery arrived with a bad signature")
    return len(received), elapsed


async def run(args: argparse.Namespace) -> dict[str, Any]:
    audio, receiver = AudioServer(10**6), WebhookReceiver({"/bench": SECRET})
    with tempfile.TemporaryDirectory() as tmp:
        hub = HubProcess(Path(tmp) / "data", env=ENV).start()
        try:
            async with aiohttp.ClientSession() as session:
                key = hub.creds("rop")["api_key"]
                checklists = []
                for i in range(args.checklists):
                    made = await graphql(
                        session,
                        hub.url,
                        """mutation($i: RopChecklistInput!) {
                        ropPutChecklist(input: $i) { id } }""",
                        {
                            "i": {
                                "id": f"CHK_bench_{i}",
                                "name": f"Скрипт {i}",
                                "stages": [
                                    {"id": "greeting", "name": "Приветствие"},
                                    {"id": "closing", "name": "Закрытие"},
                                ],
                                "webhookUrl": receiver.url("/bench"),
                                "webhookSecret": SECRET,
                            }
                        },
                    )
                    checklists.append(made["ropPutChecklist"]["id"])
                call_ids, upload_seconds = await uploads(
                    session, hub.url, key, audio.url("/call.wav"), args.uploads, args.concurrency
                )
                download_seconds = await wait_downloaded(session, hub.url, args.uploads)
                sent, delivery_seconds = await deliveries(
                    hub, receiver, checklists, call_ids[: args.calls], args.concurrency
                )
        finally:
            hub.stop()
            audio.stop()
            receiver.stop()
    return {
        "audio_upload": {
            "requests": args.uploads,
            "seconds": upload_seconds,
            "per_second": args.uploads / upload_seconds,
            "concurrency": args.concurrency,
        },
        "downloads_drained_after_seconds": download_seconds,
        "webhooks": {
            "deliveries": sent,
            "seconds": delivery_seconds,
            "per_second": sent / delivery_seconds,
            "webhook_concurrency": int(ENV["HUB_ROP_WEBHOOK_CONCURRENCY"]),
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--uploads", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--calls", type=int, default=200, help="calls whose results are sent")
    parser.add_argument("--checklists", type=int, default=10, help="deliveries per call")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args()
    if args.calls > args.uploads:
        parser.error("--calls must not exceed --uploads")
    report = asyncio.run(run(args))
    up, wh = report["audio_upload"], report["webhooks"]
    print(
        f"audio-upload: {up['requests']} requests in {up['seconds']:.2f}s ="
        f" {up['per_second']:.0f} req/s (concurrency {up['concurrency']})"
    )
    print(f"background downloads drained {report['downloads_drained_after_seconds']:.2f}s later")
    print(
        f"webhooks: {wh['deliveries']} deliveries in {wh['seconds']:.2f}s ="
        f" {wh['per_second']:.0f} deliveries/s (hub webhook_concurrency"
        f" {wh['webhook_concurrency']}, loopback receiver, signatures verified)"
    )
    if args.json:
        Path(args.json).write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()

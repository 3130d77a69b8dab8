"""What the ``rop`` tests share: a hub configured with short intervals and a test analyser
plugin, one client speaking REST, GraphQL and gRPC to it, and a call analysed against a
checklist whose webhook goes where the test says."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import aiohttp
import grpc
from google.protobuf import json_format
from hub_rop.v1 import rop_pb2_grpc

from hub.testing.inprocess import RunningHub
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.rop_servers import AudioServer

BASE = "/rop/api/v1"
FAST = {  # short intervals, leases and backoff so the suite stays quick
    "HUB_ROP_PROBE_TIMEOUT": "1",
    "HUB_ROP_DOWNLOAD_TIMEOUT": "10",
    "HUB_ROP_MAX_AUDIO_BYTES": "200000",
    "HUB_ROP_INTAKE_INTERVAL": "0.05",
    "HUB_ROP_INTAKE_LEASE": "1.5",
    "HUB_ROP_WEBHOOK_INTERVAL": "0.05",
    "HUB_ROP_WEBHOOK_TIMEOUT": "0.5",
    "HUB_ROP_WEBHOOK_LEASE": "1.5",
    "HUB_ROP_WEBHOOK_MAX_ATTEMPTS": "4",
    "HUB_ROP_WEBHOOK_BACKOFF": "0.1",
    "HUB_ROP_WEBHOOK_BACKOFF_MAX": "3",
}
WEBHOOK_SECRET = "endpoint-secret-abcdefghijkl"  # what analysed_call's webhooks are signed with

# A third-party analyser, loaded from plugins_dir: it implements the hook rop defines. It takes
# only calls whose deal stage is "auto_analyse" and judges them by the recording itself.
ANALYSER = """
import wave
from hub.hookspecs import hookimpl

@hookimpl
async def rop_analyze_call(call, audio_path, checklists, tables):
    if call["deal_stage_id"] != "auto_analyse":
        return None
    long_enough = call["duration"] >= 2.0
    frames = None
    if call["format"] == "wav":
        with wave.open(audio_path) as w:
            frames = w.getnframes()
    return {
        "checklists": [
            {"checklist_id": c["id"], "stages": [
                {"stage_id": s["id"], "status": "completed" if long_enough and i == 0 else "failed",
                 "comment": f"{call['duration']:.2f}s of audio", "quote": ""}
                for i, s in enumerate(c["stages"])]}
            for c in checklists
        ],
        "tables": [
            {"table_id": t["id"], "extracted_data": {
                f["name"]: {"frames": frames, "format": call["format"]}.get(f["name"])
                for f in t["fields"]}}
            for t in tables
        ],
    }
"""


def start_hub(data_dir: Path, **env: str) -> HubProcess:
    plugins_dir = data_dir.parent / "analysers"
    plugins_dir.mkdir(parents=True, exist_ok=True)
    (plugins_dir / "rop_analyser.py").write_text(ANALYSER)
    settings = {
        **FAST,
        "HUB_PLUGINS": "rop,rop_analyser",
        "HUB_PLUGINS_DIR": str(plugins_dir),
        **env,
    }
    return HubProcess(data_dir, env=settings).start()


def uid(prefix: str = "call") -> str:
    return f"{prefix}_{uuid.uuid4().hex[:10]}"


def snake(name: str) -> str:
    return "".join(f"_{c.lower()}" if c.isupper() else c for c in name)


def snaked(value: Any) -> Any:
    if isinstance(value, dict):
        return {snake(k): snaked(v) for k, v in value.items()}
    if isinstance(value, list):
        return [snaked(v) for v in value]
    return value


def from_grpc(message: Any) -> dict[str, Any]:
    return json_format.MessageToDict(  # type: ignore[no-any-return]
        message, preserving_proto_field_name=True, always_print_fields_with_no_presence=True
    )


class Rop:
    def __init__(
        self, hub: HubProcess, session: aiohttp.ClientSession, channel: grpc.aio.Channel
    ) -> None:
        self.hub = hub
        self.session = session
        self.stub = rop_pb2_grpc.RopStub(channel)

    async def new_key(self, role: str | None = None) -> str:
        params = f'[{{key: "role", value: "{role}"}}]' if role else "[]"
        data = await self.gql_data(
            f'mutation {{ hubAddCredential(plugin: "rop", params: {params}) }}', token=ADMIN_TOKEN
        )
        return str(data["hubAddCredential"]["api_key"])

    # -- REST ----------------------------------------------------------------------------
    async def rest(
        self, method: str, path: str, key: str | None, **kwargs: Any
    ) -> tuple[int, Any, Any]:
        params = dict(kwargs.pop("params", {}))
        if key is not None:
            params["apiKey"] = key
        async with self.session.request(
            method, f"{self.hub.url}{BASE}{path}", params=params, **kwargs
        ) as r:
            body = await r.json(content_type=None)
            return r.status, body, r.headers

    async def upload(self, key: str, fields: dict[str, Any], kind: str = "multipart") -> Any:
        if kind == "json":
            return await self.rest("POST", "/calls/audio-upload", key, json=fields)
        if kind == "urlencoded":
            return await self.rest("POST", "/calls/audio-upload", key, data=fields)
        form = aiohttp.FormData()
        for name, value in fields.items():
            form.add_field(name, str(value))
        return await self.rest("POST", "/calls/audio-upload", key, data=form)

    # -- GraphQL -------------------------------------------------------------------------
    async def gql(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        async with self.session.post(
            f"{self.hub.url}/graphql",
            json={"query": query, "variables": variables or {}},
            headers=headers,
        ) as r:
            return await r.json()  # type: ignore[no-any-return]

    async def gql_data(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> Any:
        answer = await self.gql(query, variables, token)
        assert "errors" not in answer, answer
        return answer["data"]

    async def gql_error(
        self, query: str, variables: dict[str, Any] | None = None, token: str | None = None
    ) -> dict[str, Any]:
        answer = await self.gql(query, variables, token)
        assert len(answer.get("errors") or []) == 1, answer
        return answer["errors"][0]  # type: ignore[no-any-return]

    # -- gRPC ----------------------------------------------------------------------------
    async def rpc(self, method: str, request: Any, token: str | None) -> Any:
        metadata = (("authorization", f"Bearer {token}"),) if token else ()
        return await getattr(self.stub, method)(request, metadata=metadata)

    async def rpc_error(self, method: str, request: Any, token: str | None) -> grpc.aio.AioRpcError:
        try:
            await self.rpc(method, request, token)
        except grpc.aio.AioRpcError as exc:
            return exc
        raise AssertionError(f"{method} did not fail")

    # -- waiting ---------------------------------------------------------------------------
    async def call(self, call_id: str, key: str) -> dict[str, Any]:
        data = await self.gql_data(
            "query($id: String!) { rop { call(callId: $id) { callId status reason detail format"
            " sizeBytes duration declaredDuration checklistResults { checklistName totalScore"
            " maxScore completionPercentage stages { stageId stageName score percentage status"
            " comment quote timestamp } timestamp } tableResults { tableId tableName"
            " extractedData processingTime timestamp } } } }",
            {"id": call_id},
            token=key,
        )
        return data["rop"]["call"]  # type: ignore[no-any-return]

    async def call_in(
        self, call_id: str, key: str, statuses: tuple[str, ...], timeout: float = 15
    ) -> dict[str, Any]:
        return await until(lambda: self._status_in(call_id, key, statuses), timeout)

    async def _status_in(
        self, call_id: str, key: str, statuses: tuple[str, ...]
    ) -> dict[str, Any] | None:
        call = await self.call(call_id, key)
        return call if call["status"] in statuses else None


async def until(check: Callable[[], Awaitable[Any]], timeout: float = 15.0) -> Any:
    deadline = time.monotonic() + timeout
    value = None
    while time.monotonic() < deadline:
        value = await check()
        if value:
            return value
        await asyncio.sleep(0.05)
    raise AssertionError(f"gave up after {timeout}s; last value {value!r}")


@contextlib.asynccontextmanager
async def connected(hub: HubProcess | RunningHub) -> AsyncIterator[Rop]:
    """A client on an HTTP session and a gRPC channel of its own, both closed on the way out."""
    async with aiohttp.ClientSession() as session, grpc.aio.insecure_channel(hub.grpc) as channel:
        yield Rop(hub, session, channel)  # type: ignore[arg-type]


async def uploaded(rop: Rop, key: str, audio_url: str, **fields: Any) -> str:
    """A call of a new id uploaded with this recording, ``fields`` over plain defaults; its
    id."""
    call_id = uid()
    sent = {"manager_id": "m1", "deal_id": "d1", "deal_stage_id": "s1", **fields}
    status, body, _ = await rop.upload(key, {**sent, "call_id": call_id, "audio_url": audio_url})
    assert status == 200, body
    return call_id


async def analysed_call(
    rop: Rop, audio: AudioServer, checklist_url: str, table_url: str | None = None
) -> str:
    """A checklist (and a table) whose webhooks go to these URLs, signed with
    ``WEBHOOK_SECRET``, and a call analysed against them; returns the call's id."""
    stages = [{"id": "greeting", "name": "Приветствие"}, {"id": "closing", "name": "Закрытие"}]
    checklist = (
        await rop.gql_data(
            "mutation($i: RopChecklistInput!) { ropPutChecklist(input: $i) { id } }",
            {
                "i": {
                    "name": "Скрипт " + uid("c"),
                    "stages": stages,
                    "webhookUrl": checklist_url,
                    "webhookSecret": WEBHOOK_SECRET,
                }
            },
            token=ADMIN_TOKEN,
        )
    )["ropPutChecklist"]["id"]
    tables = []
    if table_url:
        table = (
            await rop.gql_data(
                "mutation($i: RopTableInput!) { ropPutTable(input: $i) { id } }",
                {
                    "i": {
                        "name": "Итоги",
                        "fields": [{"name": "result"}],
                        "webhookUrl": table_url,
                        "webhookSecret": WEBHOOK_SECRET,
                    }
                },
                token=ADMIN_TOKEN,
            )
        )["ropPutTable"]["id"]
        tables = [{"tableId": table, "extractedData": {"result": "сделка"}}]
    key = await rop.new_key()
    call_id = await uploaded(rop, key, audio.url("/call.wav"))
    await rop.call_in(call_id, key, ("awaiting_analysis",))
    await rop.gql_data(
        "mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { status } }",
        {
            "i": {
                "callId": call_id,
                "tables": tables,
                "checklists": [
                    {
                        "checklistId": checklist,
                        "stages": [
                            {"stageId": "greeting", "status": "completed"},
                            {"stageId": "closing", "status": "failed"},
                        ],
                    }
                ],
            }
        },
        token=ADMIN_TOKEN,
    )
    return call_id

"""webim's set-log-level names a plugin and reaches every line that plugin writes, whatever
logger it writes through (rop logs under ``hub_rop.*``, not ``hub.rop``): rop's webhook lines
stop at ERROR and come back at INFO, in the real output of a hub with rop and webim loaded."""

from __future__ import annotations

import re
import socket
from collections.abc import AsyncIterator, Iterator

import aiohttp
import grpc
import pytest

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.rop_client import Rop, start_hub, uid, until
from tests.rop_servers import AudioServer
from tests.webim_client import PREFIX, rest, service_login

SET_LEVEL = PREFIX + "/l/a/monitor/set-log-level"


@pytest.fixture(scope="module")
def audio() -> Iterator[AudioServer]:
    server = AudioServer(200_000)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    process = start_hub(
        tmp_path_factory.mktemp("webim-log-levels") / "data",
        HUB_PLUGINS="rop,rop_analyser,webim",
        HUB_LOG_LEVEL="INFO",
        HUB_ROP_WEBHOOK_MAX_ATTEMPTS="1",  # one failed attempt, one INFO line, then dead
    )
    yield process
    process.stop()


@pytest.fixture
async def rop(hub: HubProcess) -> AsyncIterator[Rop]:
    async with aiohttp.ClientSession() as session:
        channel = grpc.aio.insecure_channel(hub.grpc)
        yield Rop(hub, session, channel)
        await channel.close()


def refused_url() -> str:
    """A loopback port nothing listens on: every delivery attempt fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def failed_delivery(rop: Rop, audio: AudioServer) -> str:
    """A call analysed against a checklist whose webhook cannot be reached: rop writes an INFO
    line for the failed attempt. Returns the delivery's id once it is dead."""
    checklist = (
        await rop.gql_data(
            "mutation($i: RopChecklistInput!) { ropPutChecklist(input: $i) { id } }",
            {
                "i": {
                    "name": "Скрипт " + uid("c"),
                    "stages": [{"id": "greeting", "name": "Приветствие"}],
                    "webhookUrl": refused_url(),
                    "webhookSecret": "endpoint-secret-abcdefghijkl",
                }
            },
            token=ADMIN_TOKEN,
        )
    )["ropPutChecklist"]["id"]
    key = await rop.new_key()
    call_id = uid()
    status, body, _ = await rop.upload(
        key,
        {
            "manager_id": "m1",
            "call_id": call_id,
            "deal_id": "d1",
            "deal_stage_id": "s1",
            "audio_url": audio.url("/call.wav"),
        },
    )
    assert status == 200, body
    await rop.call_in(call_id, key, ("awaiting_analysis",))
    await rop.gql_data(
        "mutation($i: RopAnalysisInput!) { ropSubmitAnalysis(input: $i) { status } }",
        {
            "i": {
                "callId": call_id,
                "tables": [],
                "checklists": [
                    {
                        "checklistId": checklist,
                        "stages": [{"stageId": "greeting", "status": "completed"}],
                    }
                ],
            }
        },
        token=ADMIN_TOKEN,
    )

    async def dead() -> str | None:
        nodes = (
            await rop.gql_data(
                "{ rop { webhookDeliveries(first: 1000) { nodes { id callId status } } } }",
                token=ADMIN_TOKEN,
            )
        )["rop"]["webhookDeliveries"]["nodes"]
        mine = [n for n in nodes if n["callId"] == call_id and n["status"] == "dead"]
        return mine[0]["id"] if mine else None

    return await until(dead, timeout=20)  # type: ignore[no-any-return]


def lines_about(hub: HubProcess, delivery: str) -> list[str]:
    return [line for line in hub.output if f"webhook {delivery}: attempt 1:" in line]


async def logged(hub: HubProcess, delivery: str) -> list[str]:
    """The line rop writes just after recording the attempt (so a moment after it is dead)."""

    async def check() -> list[str]:
        return lines_about(hub, delivery)

    return await until(check, timeout=5)  # type: ignore[no-any-return]


async def set_level(hub: HubProcess, auth: str, level: str) -> dict[str, object]:
    status, body, _ = await rest(f"{hub.url}{SET_LEVEL}?name=rop&level={level}", auth)
    assert status == 200, body
    return body  # type: ignore[no-any-return]


async def test_a_plugins_lines_stop_at_error_and_come_back(
    hub: HubProcess, rop: Rop, audio: AudioServer
) -> None:
    auth = service_login(hub)
    heard = await failed_delivery(rop, audio)
    (line,) = await logged(hub, heard)
    assert re.search(r"INFO .*hub_rop\.webhooks: ", line), line

    answer = await set_level(hub, auth, "ERROR")
    assert answer == {
        "result": "ok",
        "name": "rop",
        "logger": "hub_rop",
        "loggers": ["hub_rop", "hub.rop"],
        "level": "ERROR",
    }
    silenced = await failed_delivery(rop, audio)

    await set_level(hub, auth, "INFO")
    again = await failed_delivery(rop, audio)
    await logged(hub, again)  # written after the silenced one's would have been
    assert lines_about(hub, silenced) == []

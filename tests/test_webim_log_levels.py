"""webim's set-log-level names a plugin and reaches every line that plugin writes, whatever
logger it writes through (rop logs under ``hub_rop.*``, not ``hub.rop``): rop's webhook lines
stop at ERROR and come back at INFO, in the real output of a hub with rop and webim loaded."""

from __future__ import annotations

import re
import socket

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.rop_client import Rop, analysed_call, until
from tests.rop_fixtures import audio_fixture, hub_fixture, rop_fixture
from tests.rop_servers import AudioServer
from tests.webim_client import PREFIX, rest, service_login

SET_LEVEL = PREFIX + "/l/a/monitor/set-log-level"

audio = audio_fixture()
hub = hub_fixture(
    "webim-log-levels",
    HUB_PLUGINS="rop,rop_analyser,webim",
    HUB_LOG_LEVEL="INFO",
    HUB_ROP_WEBHOOK_MAX_ATTEMPTS="1",  # one failed attempt, one INFO line, then dead
)
rop = rop_fixture()


def refused_url() -> str:
    """A loopback port nothing listens on: every delivery attempt fails at once."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    return f"http://127.0.0.1:{port}/hook"


async def failed_delivery(rop: Rop, audio: AudioServer) -> str:
    """A call analysed against a checklist whose webhook cannot be reached: rop writes an INFO
    line for the failed attempt. Returns the delivery's id once it is dead."""
    call_id = await analysed_call(rop, audio, refused_url())

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

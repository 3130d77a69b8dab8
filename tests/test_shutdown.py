"""SIGTERM with an open GraphQL subscription: the socket is closed and the hub exits cleanly,
instead of waiting out the drain timeout for a stream that never ends."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from tests.hubproc import ADMIN_TOKEN, HubProcess

SUBSCRIPTION = "subscription { notesNoteAdded { id } }"


async def test_open_subscription_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_SHUTDOWN_TIMEOUT": "30"}).start()
    try:
        async with (
            aiohttp.ClientSession() as session,
            session.ws_connect(f"{hub.url}/graphql", protocols=["graphql-transport-ws"]) as ws,
        ):
            await ws.send_json(
                {"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}
            )
            assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
            await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
            await asyncio.sleep(0.5)
            assert hub.proc is not None
            started = time.monotonic()
            hub.proc.send_signal(signal.SIGTERM)
            message = await ws.receive(timeout=20)
            assert message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED), message
            assert ws.close_code == 1001
        code = await asyncio.to_thread(hub.proc.wait, 25)
        assert code == 0
        assert time.monotonic() - started < 25, "shutdown waited for the subscription to end"
    finally:
        hub.stop()

"""SIGTERM with an open GraphQL subscription: the socket is closed and the hub exits cleanly,
instead of waiting out the drain timeout for a stream that never ends."""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import aiohttp

from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ws_client import acknowledged, subscribe

SUBSCRIPTION = "subscription { notesNoteAdded { id } }"


async def test_open_subscription_does_not_hold_up_shutdown(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_SHUTDOWN_TIMEOUT": "30"}).start()
    try:
        async with acknowledged(hub.url, {"Authorization": f"Bearer {ADMIN_TOKEN}"}) as ws:
            await subscribe(ws, SUBSCRIPTION)
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


# A plugin whose one route takes 14 s: requests still in flight when the drain ends.
LINGERER = """
import asyncio

from aiohttp import web

from hub.hookspecs import hookimpl
from hub.registrations import RestApi


@hookimpl
def register_rest(hub, register):
    async def slow(request):
        print("slow request started", flush=True)
        await asyncio.sleep(14)
        return web.json_response({"slept": 14})

    register(RestApi(routes=[web.get("/slow", slow)]))
"""
GRACE = 4.0
MARGIN = 2.0 + 1.5  # hub.serve.STOP_MARGIN, and the interpreter's own exit


async def connection_refused(address: str) -> bool:
    host, port = address.rsplit(":", 1)
    try:
        _, writer = await asyncio.open_connection(host, int(port))
    except ConnectionRefusedError:
        return True
    writer.close()
    return False


async def test_sigterm_refuses_new_work_at_once_and_exits_by_the_deadline(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "lingerer.py").write_text(LINGERER)
    env = {"HUB_PLUGINS_DIR": str(plugins), "HUB_SHUTDOWN_TIMEOUT": str(GRACE)}
    hub = HubProcess(tmp_path / "data", env=env).start()
    try:
        async with aiohttp.ClientSession(base_url=hub.url) as session:

            async def slow() -> int:
                async with session.get("/lingerer/slow") as reply:
                    return reply.status

            requests = [asyncio.create_task(slow()) for _ in range(3)]
            deadline = time.monotonic() + 10
            while sum("slow request started" in line for line in hub.output) < 3:
                assert time.monotonic() < deadline, hub.output
                await asyncio.sleep(0.02)
            assert hub.proc is not None
            started = time.monotonic()
            hub.proc.send_signal(signal.SIGTERM)
            await asyncio.sleep(0.3)
            assert await connection_refused(hub.http), "a new connection was accepted"
            results = await asyncio.gather(*requests, return_exceptions=True)
        assert all(isinstance(r, aiohttp.ClientError) for r in results), results
        code = await asyncio.to_thread(hub.proc.wait, 30)
        took = time.monotonic() - started
        assert code == 0
        assert GRACE - 0.5 < took < GRACE + MARGIN, f"exited {took:.1f}s after SIGTERM"
    finally:
        hub.stop()


async def test_a_websocket_peer_that_never_answers_the_close_does_not_hold_the_stop(
    tmp_path: Path,
) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_SHUTDOWN_TIMEOUT": "2"}).start()
    try:
        host, port = hub.http.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(
            b"GET /graphql HTTP/1.1\r\nHost: hub\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
            b"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
            b"Sec-WebSocket-Protocol: graphql-transport-ws\r\n\r\n"
        )
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 101")
        assert hub.proc is not None
        started = time.monotonic()
        hub.proc.send_signal(signal.SIGTERM)  # and this peer never reads or answers again
        code = await asyncio.to_thread(hub.proc.wait, 30)
        took = time.monotonic() - started
        writer.close()
        assert code == 0
        assert took < 2 + MARGIN, f"exited {took:.1f}s after SIGTERM"
    finally:
        hub.stop()

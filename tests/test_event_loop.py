"""``hub serve`` runs on uvloop when it is installed, on asyncio's loop when ``HUB_EVENT_LOOP``
says so; what the hub writes on the wire is the same on both. The connection cap's refusal is
the case that differed: its protocol asserted an asyncio transport, uvloop's is not one, and the
aborted connection turned the unread request into a reset instead of the 503."""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path

import orjson
import pytest

from hub.errors import StartupError
from hub.serve import loop_factory
from hub.testing.process import HubProcess

LOOPS = ["asyncio", "uvloop"]
needs_uvloop = pytest.mark.skipif(
    importlib.util.find_spec("uvloop") is None, reason="uvloop is not installed"
)


def on(loop: str) -> object:
    return pytest.param(loop, marks=needs_uvloop) if loop == "uvloop" else loop


HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n"


@pytest.mark.parametrize("loop", [on(name) for name in LOOPS])
async def test_a_connection_over_the_cap_reads_the_503_on_either_loop(
    tmp_path: Path, loop: str
) -> None:
    env = {"HUB_HTTP_MAX_CONNECTIONS": "1", "HUB_EVENT_LOOP": loop, "HUB_LOG_LEVEL": "INFO"}
    hub = HubProcess(tmp_path, env=env).start()
    try:
        assert f"event loop: {loop}" in "\n".join(hub.output)
        host, port = hub.http.rsplit(":", 1)
        reader, writer = await asyncio.open_connection(host, int(port))
        writer.write(HEALTHZ)
        assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        over_reader, over_writer = await asyncio.open_connection(host, int(port))
        over_writer.write(HEALTHZ)  # bytes the refusal never reads
        answer = await asyncio.wait_for(over_reader.read(), 10)
        head, _, body = answer.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 503 ")
        assert b"\r\nConnection: close" in head
        assert orjson.loads(body)["error"]["reason"] == "too_many_connections"
        over_writer.close()
        writer.close()
    finally:
        hub.stop()


def test_asyncio_is_asyncio_s_own_loop_and_auto_prefers_uvloop() -> None:
    assert loop_factory("asyncio") is None
    expected = None
    if importlib.util.find_spec("uvloop") is not None:
        import uvloop

        expected = uvloop.new_event_loop
    assert loop_factory("auto") is expected


def test_an_unknown_loop_is_one_line_at_start(tmp_path: Path) -> None:
    with pytest.raises(StartupError, match="HUB_EVENT_LOOP=tokio: expected one of"):
        loop_factory("tokio")
    hub = HubProcess(tmp_path, env={"HUB_EVENT_LOOP": "tokio"})
    started = hub.cli("serve", "--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0", check=False)
    assert started.returncode != 0
    assert started.stderr.strip().splitlines() == [
        "Error: cannot start: HUB_EVENT_LOOP=tokio: expected one of auto, uvloop, asyncio"
    ]

"""``http_body_timeout``: a request body whose next bytes do not come in time is answered 408 in
the surface's error shape and its connection closed, with nothing stored; a body that keeps
arriving, however slowly overall, is read whole."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from tests.hubproc import HubProcess
from tests.test_http_wire import ERA_POINTS, open_to, parse_responses, scrape, series

BODY_TIMEOUT = 0.5
STALL_LINE = "request body stalled"


@pytest.fixture(scope="module")
def slow_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[HubProcess, str]]:
    env = {"HUB_HTTP_BODY_TIMEOUT": str(BODY_TIMEOUT), "HUB_LOG_LEVEL": "INFO"}
    hub = HubProcess(tmp_path_factory.mktemp("body-timeout"), env=env).start()
    yield hub, str(hub.creds("era")["token"])
    hub.stop()


def era_point(code: str, size: int = 100) -> bytes:
    """An ERA create body of exactly ``size`` bytes (padded with spaces: still valid JSON)."""
    body = orjson.dumps({"code": code, "type": "webshop", "url": "http://e.xample/cb"})
    assert len(body) <= size
    return body[:-1] + b" " * (size - len(body)) + b"}"


def head(path: str, token: str, framing: str) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {token}\r\n{framing}\r\n\r\n"
    ).encode()


async def send_and_wait(
    address: str, *parts: bytes, pause: float = 0.0
) -> tuple[float, list[tuple[int, dict[str, str], bytes]]]:
    """Send ``parts`` ``pause`` seconds apart, then read until the hub closes the connection:
    how long that took from the last part, and the answers read."""
    reader, writer = await open_to(address)
    loop = asyncio.get_running_loop()
    received = b""
    try:
        for i, part in enumerate(parts):
            if i:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        sent = loop.time()
        async with asyncio.timeout(BODY_TIMEOUT + 5):  # never closed: the test fails here
            while data := await reader.read(65536):
                received += data
        return loop.time() - sent, parse_responses(received)
    finally:
        writer.close()


async def era_codes(hub: HubProcess, token: str) -> set[str]:
    headers = {"Authorization": f"Bearer {token}"}
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + ERA_POINTS, headers=headers) as reply,
    ):
        assert reply.status == 200
        return {point["code"] for point in await reply.json()}


async def stall_lines(hub: HubProcess, count: int) -> list[str]:
    """The hub's log lines about stalled bodies, once there are ``count`` of them."""
    deadline = asyncio.get_running_loop().time() + 10
    while True:
        lines = [line for line in hub.output if STALL_LINE in line]
        if len(lines) >= count:
            return lines
        assert asyncio.get_running_loop().time() < deadline, "".join(hub.output)
        await asyncio.sleep(0.05)


async def counted(hub: HubProcess, name: str) -> dict[str, float]:
    """The counter ``name`` of ``hub``'s /metrics, by listener."""
    lines = series(await scrape(hub), name + "_total")
    return {line.split('"')[1]: float(line.split()[-1]) for line in lines}


def assert_cut_at_the_timeout(lived: float, headers: dict[str, str]) -> None:
    assert BODY_TIMEOUT - 0.1 < lived < BODY_TIMEOUT + 2
    assert headers["connection"] == "close"


async def test_a_stalled_era_create_is_a_408_in_eras_shape_and_nothing_is_stored(
    slow_hub: tuple[HubProcess, str],
) -> None:
    hub, token = slow_hub
    before = len(await stall_lines(hub, 0))
    timeouts = await counted(hub, "hub_http_body_timeouts")
    body = era_point("stalled-era")
    request = head(ERA_POINTS, token, f"Content-Length: {len(body)}")
    lived, answers = await send_and_wait(hub.http, request + body[:10])
    ((status, headers, answer),) = answers
    assert status == 408
    assert_cut_at_the_timeout(lived, headers)
    assert orjson.loads(answer) == {
        "error_code": 1408,
        "error_message": f"request body timed out: no bytes for {BODY_TIMEOUT:g} seconds",
    }
    assert "stalled-era" not in await era_codes(hub, token)
    lines = await stall_lines(hub, before + 1)
    assert len(lines) == before + 1 and " INFO " in lines[-1], lines
    assert "Traceback" not in "".join(hub.output)
    after = await counted(hub, "hub_http_body_timeouts")
    assert after == {**timeouts, "http": timeouts["http"] + 1}


async def test_every_listener_counts_body_timeouts_from_zero_as_header_timeouts(
    tmp_path: Path,
) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_WEBIM_LISTEN": "127.0.0.1:0"}).start()
    try:
        listeners = await counted(hub, "hub_http_header_timeouts")
        assert len(listeners) == 2, listeners  # the hub's and webim's own
        assert await counted(hub, "hub_http_body_timeouts") == dict.fromkeys(listeners, 0.0)
    finally:
        hub.stop()


async def test_a_stalled_graphql_request_is_a_408_in_the_graphql_shape(
    slow_hub: tuple[HubProcess, str],
) -> None:
    hub, token = slow_hub
    query = orjson.dumps({"query": "{ __typename }"})
    request = head("/graphql", token, f"Content-Length: {len(query) + 90}")
    lived, answers = await send_and_wait(hub.http, request + query[:10])
    ((status, headers, answer),) = answers
    assert status == 408
    assert_cut_at_the_timeout(lived, headers)
    message = f"request body timed out: no bytes for {BODY_TIMEOUT:g} seconds"
    extensions = {"code": "BAD_REQUEST", "plugin": "hub", "status": 408}
    assert orjson.loads(answer) == {
        "errors": [{"message": message, "extensions": {**extensions, "reason": "request_timeout"}}]
    }


async def test_a_chunked_body_that_stalls_mid_chunk_is_a_408(
    slow_hub: tuple[HubProcess, str],
) -> None:
    hub, token = slow_hub
    body = era_point("stalled-chunk")
    request = head(ERA_POINTS, token, "Transfer-Encoding: chunked")
    chunk_start = f"{len(body):x}\r\n".encode() + body[:10]  # of the chunk's 100 bytes
    lived, answers = await send_and_wait(hub.http, request + chunk_start)
    ((status, headers, answer),) = answers
    assert status == 408
    assert_cut_at_the_timeout(lived, headers)
    assert orjson.loads(answer)["error_code"] == 1408
    assert "stalled-chunk" not in await era_codes(hub, token)


@pytest.mark.parametrize("framing", ["length", "chunked"])
async def test_a_body_that_keeps_arriving_is_read_however_long_it_takes(
    slow_hub: tuple[HubProcess, str], framing: str
) -> None:
    """Five pieces, each well within the timeout of the one before: three timeouts in all."""
    hub, token = slow_hub
    code = f"slow-{framing}"
    body = era_point(code)
    pieces = [body[i : i + 20] for i in range(0, len(body), 20)]
    if framing == "chunked":
        request = head(ERA_POINTS, token, "Transfer-Encoding: chunked\r\nConnection: close")
        pieces = [f"{len(piece):x}\r\n".encode() + piece + b"\r\n" for piece in pieces]
        pieces[-1] += b"0\r\n\r\n"
    else:
        request = head(ERA_POINTS, token, f"Content-Length: {len(body)}\r\nConnection: close")
    pause = BODY_TIMEOUT * 0.6
    _, answers = await send_and_wait(hub.http, request, *pieces, pause=pause)
    ((status, _, answer),) = answers
    assert status == 200, answer
    assert orjson.loads(answer)["code"] == code
    assert code in await era_codes(hub, token)


def test_a_body_timeout_that_is_not_positive_stops_the_start(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_HTTP_BODY_TIMEOUT": "0"})
    try:
        with pytest.raises(RuntimeError, match="bad config: http_body_timeout: must be greater"):
            hub.start()
    finally:
        hub.stop()  # a hub that started after all

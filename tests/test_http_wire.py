"""The HTTP wire against a real hub over raw sockets: one grammar for every request at every split
of a pipelined stream, malformed requests answered 400 in the hub's shape without leaking into the
log, CONNECT and ``OPTIONS *``, bounded metric labels, slow clients and the connection cap."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Iterator
from pathlib import Path

import aiohttp
import orjson
import pytest

from hub.metrics import HTTP_METHODS
from tests.hubproc import ADMIN_TOKEN, HubProcess

ERA_POINTS = "/era/rest/v1/service/integration_points"


# -- a raw HTTP/1.1 client ------------------------------------------------------------------------
def parse_responses(data: bytes) -> list[tuple[int, dict[str, str], bytes]]:
    """Split a server's byte stream into ``(status, headers, body)``; a truncated tail fails."""
    responses = []
    while data:
        head, sep, data = data.partition(b"\r\n\r\n")
        assert sep, f"incomplete response head: {head!r}"
        status_line, *lines = head.decode("latin-1").split("\r\n")
        status = int(status_line.split(" ", 2)[1])
        headers = {}
        for line in lines:
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        if headers.get("transfer-encoding") == "chunked":
            body = b""
            while True:
                size_line, _, data = data.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                body, data = body + data[:size], data[size + 2 :]
                if size == 0:
                    break
        else:
            length = int(headers.get("content-length", "0"))
            body, data = data[:length], data[length:]
        responses.append((status, headers, body))
    return responses


async def exchange(address: str, *parts: bytes, pause: float = 0.02, wait: float = 10) -> bytes:
    """Send ``parts`` as separate writes with a pause between, then read until the server closes."""
    host, port = address.rsplit(":", 1)
    reader, writer = await asyncio.open_connection(host, int(port))
    try:
        for i, part in enumerate(parts):
            if i:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()
        return await asyncio.wait_for(reader.read(), wait)
    finally:
        writer.close()


def chunked_post(path: str, data: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        f"Transfer-Encoding: chunked\r\n\r\n{len(data):x}\r\n".encode()
        + data
        + b"\r\n0\r\n\r\n"
    )


def length_post(path: str, data: bytes) -> bytes:
    return (
        f"POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(data)}\r\n\r\n".encode()
        + data
    )


def simple(method: str, path: str, extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: hub\r\n{extra}\r\n".encode()


# -- 3: one grammar at every split point ----------------------------------------------------------
HIDDEN = simple("GET", "/hidden-request")  # a 404 if it were ever served
LOOKUP = (
    f"LOOKUP {ERA_POINTS} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
    "Content-Length: 2\r\n\r\n{}"
).encode()
PIPELINE = [  # (request bytes, the status it must get)
    (chunked_post("/healthz", HIDDEN), 405),  # body never read by the handler
    (LOOKUP, 401),
    (chunked_post("/graphql", HIDDEN), 400),  # body read by the handler: not JSON
    (LOOKUP, 401),
    (length_post("/healthz", HIDDEN), 405),
    (LOOKUP, 401),
    (chunked_post("/graphql", b'{"query": "{ __typename }"}'), 200),
    (LOOKUP, 401),
    (simple("GET", "/healthz", "Connection: close\r\n"), 200),
]


@pytest.fixture(scope="module")
def wire_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    hub = HubProcess(tmp_path_factory.mktemp("wire")).start()
    yield hub
    hub.stop()


async def test_pipelined_stream_gets_one_answer_per_request_at_every_split(
    wire_hub: HubProcess,
) -> None:
    stream = b"".join(request for request, _ in PIPELINE)
    expected = [status for _, status in PIPELINE]
    limit = asyncio.Semaphore(8)

    async def split_at(at: int) -> None:
        async with limit:
            raw = await exchange(wire_hub.http, stream[:at], stream[at:])
        statuses = [status for status, _, _ in parse_responses(raw)]
        assert statuses == expected, f"split at byte {at}: {statuses}"

    await asyncio.gather(*(split_at(at) for at in range(1, len(stream))))


async def test_method_names_are_case_sensitive(wire_hub: HubProcess) -> None:
    """``get`` is not ``GET``: an unknown method, refused like any other on that path."""
    raw = await exchange(wire_hub.http, simple("get", "/healthz", "Connection: close\r\n"))
    ((status, headers, body),) = parse_responses(raw)
    assert status == 405
    assert headers["allow"] == "GET,HEAD"
    assert orjson.loads(body)["error"]["reason"] == "method_not_allowed"
    raw = await exchange(wire_hub.http, simple("lookup", ERA_POINTS, "Connection: close\r\n"))
    assert [s for s, _, _ in parse_responses(raw)] == [405]


# -- 5: CONNECT and OPTIONS * ---------------------------------------------------------------------
@pytest.mark.parametrize(
    "request_line",
    ["CONNECT example.com:443 HTTP/1.1", "CONNECT /era/x HTTP/1.1", "OPTIONS * HTTP/1.1"],
)
async def test_targets_that_are_not_paths_are_refused_in_the_hub_shape(
    wire_hub: HubProcess, request_line: str
) -> None:
    """405 with an empty Allow, and the connection stays usable: a CONNECT opens no tunnel."""
    stream = f"{request_line}\r\nHost: hub\r\n\r\n".encode() + simple(
        "GET", "/healthz", "Connection: close\r\n"
    )
    (refused, headers, body), (after, _, _) = parse_responses(await exchange(wire_hub.http, stream))
    assert (refused, after) == (405, 200)
    assert headers["allow"] == ""
    assert orjson.loads(body) == {
        "error": {"status": 405, "reason": "method_not_allowed", "message": "Method not allowed"}
    }


# -- 4: nothing a client sends reaches the log ---------------------------------------------------
SECRET = "f0e1d2c3b4a5968778695a4b3c2d1e0f"
MALFORMED = [
    # an unencoded space in the query: the request line has four parts
    f"GET /rop/api/v1/tables/call-ready?tab=T&call=call 1&apiKey={SECRET} HTTP/1.1\r\n"
    "Host: hub\r\n\r\n".encode(),
    # a request line over 8190 bytes
    f"GET /rop/api/v1/tables/call-ready?apiKey={SECRET}&pad={'x' * 8200} HTTP/1.1\r\n"
    "Host: hub\r\n\r\n".encode(),
    # an Authorization header over 8190 bytes
    f"GET /healthz HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {SECRET}{'x' * 8200}\r\n"
    "\r\n".encode(),
    # a control character in a header value
    f"GET /healthz HTTP/1.1\r\nHost: hub\r\nAuthorization: Bearer {SECRET}\x01\r\n\r\n".encode(),
    # a method that is no token
    f"G(T /rop/api/v1/tables?apiKey={SECRET} HTTP/1.1\r\nHost: hub\r\n\r\n".encode(),
]
ODD_BUT_PARSED = [  # bytes outside ASCII in the target: parsed, answered by rop (401)
    f"GET /rop/api/v1/tables/call-ready?tab=T&call=\xe9&apiKey={SECRET} HTTP/1.1\r\n"
    "Host: hub\r\nConnection: close\r\n\r\n".encode("latin-1"),
    f"GET /rop/api/v1/tables/call-ready?tab=T&call=\u00e9&apiKey={SECRET} HTTP/1.1\r\n"
    "Host: hub\r\nConnection: close\r\n\r\n".encode(),
]


async def test_malformed_requests_leave_no_secret_and_no_traceback_in_the_log(
    tmp_path: Path,
) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_LOG_LEVEL": "DEBUG"}).start()
    try:
        for request in MALFORMED:
            ((status, headers, body),) = parse_responses(await exchange(hub.http, request))
            assert status == 400
            assert headers["content-type"].startswith("application/json")
            error = orjson.loads(body)["error"]
            assert (error["status"], error["reason"]) == (400, "bad_request")
            assert SECRET not in body.decode()
        for request in ODD_BUT_PARSED:
            ((status, _, body),) = parse_responses(await exchange(hub.http, request))
            assert status == 401, body
        deadline = asyncio.get_running_loop().time() + 10
        while sum("malformed request" in line for line in hub.output) < len(MALFORMED):
            assert asyncio.get_running_loop().time() < deadline, "".join(hub.output)
            await asyncio.sleep(0.05)
    finally:
        hub.stop()
    log = "".join(hub.output)
    assert SECRET not in log
    assert "Traceback" not in log
    malformed = [line for line in hub.output if "malformed request" in line]
    assert all(len(line) < 200 for line in malformed), malformed


# -- 11: metric labels come from closed sets ------------------------------------------------------
def series(metrics: str, name: str) -> list[str]:
    return [line for line in metrics.splitlines() if line.startswith(name + "{")]


async def test_invented_methods_do_not_grow_the_metrics(wire_hub: HubProcess) -> None:
    invented = [f"INVENTED{i}" for i in range(300)]
    stream = b"".join(simple(method, f"/x{i}") for i, method in enumerate(invented))
    stream += simple("LOOKUP", ERA_POINTS, "Connection: close\r\n")
    statuses = [status for status, _, _ in parse_responses(await exchange(wire_hub.http, stream))]
    assert statuses == [404] * len(invented) + [401]
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{wire_hub.url}/metrics") as reply,
    ):
        metrics = await reply.text()
    requests = series(metrics, "hub_http_requests_total")
    methods = {m for line in requests for m in re.findall(r'method="([^"]*)"', line)}
    assert "INVENTED1" not in metrics
    assert {"other", "LOOKUP"} <= methods <= {*HTTP_METHODS, "LOOKUP", "other"}
    assert len(requests) < 60, requests


# -- 12: slow and idle clients, and the connection cap --------------------------------------------
HEADER_TIMEOUT = 1.0
KEEPALIVE_TIMEOUT = 1.5
CAP = 5


@pytest.fixture(scope="module")
def strict_hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[HubProcess]:
    env = {
        "HUB_HTTP_HEADER_TIMEOUT": str(HEADER_TIMEOUT),
        "HUB_HTTP_KEEPALIVE_TIMEOUT": str(KEEPALIVE_TIMEOUT),
        "HUB_HTTP_MAX_CONNECTIONS": str(CAP),
        "HUB_HTTP_WEBSOCKET_HEARTBEAT": "0.5",
    }
    hub = HubProcess(tmp_path_factory.mktemp("strict"), env=env).start()
    yield hub
    hub.stop()


async def open_to(address: str) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
    host, port = address.rsplit(":", 1)
    return await asyncio.open_connection(host, int(port))


async def seconds_until_closed(reader: asyncio.StreamReader, limit: float = 10) -> float:
    """How long the server keeps the connection open from now (whatever it sends meanwhile)."""
    loop = asyncio.get_running_loop()
    started = loop.time()
    try:
        async with asyncio.timeout(limit):
            while await reader.read(65536):
                pass
    except ConnectionResetError:
        pass
    return loop.time() - started


async def scrape(hub: HubProcess) -> str:
    async with aiohttp.ClientSession() as session, session.get(f"{hub.url}/metrics") as reply:
        return await reply.text()


async def test_slowloris_and_silent_connections_are_cut_at_the_header_timeout(
    strict_hub: HubProcess,
) -> None:
    reader, writer = await open_to(strict_hub.http)
    silent_reader, silent_writer = await open_to(strict_hub.http)

    async def drip() -> None:
        writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\n")
        for byte in b"X-Padding: " + b"a" * 1000:
            writer.write(bytes([byte]))
            await asyncio.sleep(0.05)

    dripping = asyncio.create_task(drip())
    try:
        lived, silent = await asyncio.gather(
            seconds_until_closed(reader), seconds_until_closed(silent_reader)
        )
    finally:
        dripping.cancel()
        writer.close()
        silent_writer.close()
    assert HEADER_TIMEOUT - 0.2 < lived < HEADER_TIMEOUT + 1.5
    assert HEADER_TIMEOUT - 0.2 < silent < HEADER_TIMEOUT + 1.5
    timeouts = series(await scrape(strict_hub), "hub_http_header_timeouts_total")
    assert timeouts and float(timeouts[0].split()[-1]) >= 2


async def test_idle_keep_alive_connections_are_closed(strict_hub: HubProcess) -> None:
    reader, writer = await open_to(strict_hub.http)
    try:
        writer.write(simple("GET", "/healthz"))
        head = await reader.readuntil(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200")
        # after the response, idle: the keep-alive timeout applies, not the header timeout
        lived = await seconds_until_closed(reader)
    finally:
        writer.close()
    assert KEEPALIVE_TIMEOUT - 0.2 < lived < KEEPALIVE_TIMEOUT + 1.5


async def test_connections_over_the_cap_are_refused_and_counted(strict_hub: HubProcess) -> None:
    held = [await open_to(strict_hub.http) for _ in range(CAP)]
    try:
        for reader, writer in held:  # each served, then idle on keep-alive
            writer.write(simple("GET", "/healthz"))
            assert (await reader.readuntil(b"\r\n\r\n")).startswith(b"HTTP/1.1 200")
        over = await exchange(strict_hub.http, simple("GET", "/healthz"))
        ((status, headers, body),) = parse_responses(over)
        assert status == 503
        assert headers["connection"] == "close"
        assert orjson.loads(body)["error"]["reason"] == "too_many_connections"
    finally:
        for _, writer in held:
            writer.close()
    refusals = 1
    only_the_scrape = ['hub_http_connections_open{listener="http"} 1.0']
    deadline = asyncio.get_running_loop().time() + 10
    while True:  # until the server has seen the held connections go (refused meanwhile)
        async with (
            aiohttp.ClientSession() as session,
            session.get(f"{strict_hub.url}/metrics") as reply,
        ):
            metrics = await reply.text()
        if reply.status == 200 and series(metrics, "hub_http_connections_open") == only_the_scrape:
            break
        if reply.status != 200:
            assert reply.status == 503
            refusals += 1
        assert asyncio.get_running_loop().time() < deadline
        await asyncio.sleep(0.1)
    (refused,) = series(metrics, "hub_http_connections_refused_total")
    assert refused == f'hub_http_connections_refused_total{{listener="http"}} {refusals:.1f}'


async def test_websocket_peer_that_stops_answering_pings_is_disconnected(
    strict_hub: HubProcess,
) -> None:
    loop = asyncio.get_running_loop()
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(
            f"{strict_hub.url}/graphql", protocols=["graphql-transport-ws"], autoping=False
        ) as ws,
    ):
        started = loop.time()
        while True:
            message = await ws.receive(timeout=10)
            if message.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
            assert message.type == aiohttp.WSMsgType.PING  # and never answered
    assert loop.time() - started < 5


@pytest.mark.parametrize("variable", ["HUB_HTTP_HEADER_TIMEOUT", "HUB_HTTP_MAX_CONNECTIONS"])
def test_a_limit_that_is_not_positive_stops_the_start(tmp_path: Path, variable: str) -> None:
    hub = HubProcess(tmp_path / "data", env={variable: "0"})
    with pytest.raises(RuntimeError, match=f"bad config: {variable[4:].lower()}: must be greater"):
        hub.start()
    assert not (tmp_path / "data").exists()


async def test_a_body_read_in_many_pieces_is_read_whole(wire_hub: HubProcess) -> None:
    """Several hundred KB arrive in many reads, each drained by the handler (aiohttp asks the
    connection to resume reading after each; the hub does so only when reading was paused),
    and the request pipelined after it is answered."""
    filler = "x" * 700_000
    body = json.dumps({"code": "big", "type": "webshop", "url": "http://e.xample", "zz": filler})
    big = (
        f"POST {ERA_POINTS} HTTP/1.1\r\nHost: hub\r\nContent-Type: application/json\r\n"
        f"Authorization: Bearer {ADMIN_TOKEN}\r\nContent-Length: {len(body)}\r\n\r\n{body}"
    ).encode()
    raw = await exchange(wire_hub.http, big + simple("GET", "/healthz", "Connection: close\r\n"))
    (status, _, answer), (after, _, _) = parse_responses(raw)
    assert (status, after) == (400, 200)
    assert b"zz" in answer  # the whole body was read and judged: its unknown field is named

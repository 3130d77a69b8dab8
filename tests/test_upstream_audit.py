"""Upstream mode against a vendor that misbehaves at the byte level: a raw TCP server on loopback
(:class:`WildVendor`) that answers each request as the test says (garbage, a body cut off, a
stall, a 429 with an odd ``Retry-After``, headers that are not UTF-8), in front of which a
third-party plugin loaded from ``plugins_dir`` reads and writes through ``hub.upstream``."""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN

PROBE = '''
"""Reads ``/read/<path>`` through hub.upstream and answers the vendor's bytes; POST
``/write/<path>`` is a write delivered once that makes ``<path>``'s cached answers stale."""
from dataclasses import dataclass, field

from aiohttp import web

from hub.caller import caller_of
from hub.credentials import CredentialType
from hub.hookspecs import hookimpl
from hub.registrations import RestApi
from hub.upstream import UpstreamSettings, Vendor, VendorAuth, Write, check_mode


@dataclass
class ProbeUpstream(UpstreamSettings):
    budget: str = "100/s"


@dataclass
class ProbeSettings:
    mode: str = "local"
    upstream: ProbeUpstream = field(default_factory=ProbeUpstream)

    def __post_init__(self):
        check_mode("probe", self.mode, self.upstream)


@hookimpl
def register_settings(register):
    register(ProbeSettings)


@hookimpl
def register_credential_types(hub, register):
    register(CredentialType())


@hookimpl
def register_rest(hub, register):
    upstream = hub.upstream(
        "probe",
        Vendor(
            settings=hub.settings_for("probe").upstream,
            auth=VendorAuth(headers={"Authorization": "Bearer vendor-secret"}),
        ),
    )

    async def read(request):
        caller = caller_of(request)
        caller.require()
        reading = await upstream.read(caller, "/" + request.match_info["tail"],
                                      request.query.items())
        return web.Response(body=reading.body, status=reading.status,
                            content_type="application/octet-stream")

    async def write(request):
        caller = caller_of(request)
        caller.require()
        path = "/" + request.match_info["tail"]
        reply = await upstream.write(
            caller, Write("POST", path, body=await request.read(),
                          content_type="application/json", invalidates=(path,)))
        return web.Response(body=reply.body, status=reply.status,
                            content_type="application/octet-stream")

    register(RestApi(routes=[web.get("/read/{tail:.*}", read),
                             web.post("/write/{tail:.*}", write)]))
'''


@dataclass(frozen=True)
class Request:
    method: str
    target: str
    headers: dict[str, str]
    body: bytes


Answer = Callable[[Request, asyncio.StreamWriter], Awaitable[None]]


def raw(data: bytes) -> Answer:
    """Answer exactly these bytes, then close."""

    async def answer(_request: Request, writer: asyncio.StreamWriter) -> None:
        writer.write(data)
        await writer.drain()

    return answer


def http(status: int, body: bytes = b"{}", *headers: bytes) -> Answer:
    head = b"HTTP/1.1 %d X\r\nContent-Length: %d\r\nConnection: close\r\n" % (status, len(body))
    return raw(head + b"".join(h + b"\r\n" for h in headers) + b"\r\n" + body)


class WildVendor:
    """A vendor on loopback that answers each request with ``answer`` (default: a 200 JSON)."""

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.answer: Answer = http(200, b'{"ok": true}', b"Content-Type: application/json")
        self.server: asyncio.Server | None = None
        self.port = 0

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        with contextlib.suppress(Exception):
            head = await reader.readuntil(b"\r\n\r\n")
            line, *lines = head.decode("latin-1").split("\r\n")
            method, target, _ = line.split(" ", 2)
            headers = {k.lower(): v.strip() for k, _, v in (h.partition(":") for h in lines if h)}
            body = await reader.readexactly(int(headers.get("content-length", 0)))
            request = Request(method, target, headers, body)
            self.requests.append(request)
            await self.answer(request, writer)
        writer.close()

    async def start(self) -> None:
        self.server = await asyncio.start_server(self._serve, "127.0.0.1", self.port)
        self.port = self.server.sockets[0].getsockname()[1]

    async def stop(self) -> None:
        assert self.server is not None
        self.server.close()
        await self.server.wait_closed()


@pytest.fixture
async def wild() -> AsyncIterator[WildVendor]:
    vendor = WildVendor()
    await vendor.start()
    yield vendor
    await vendor.stop()


@contextlib.asynccontextmanager
async def probe_hub(data: Path, vendor: WildVendor, **settings: str) -> AsyncIterator[RunningHub]:
    plugins = data.parent / "plugins"
    plugins.mkdir(exist_ok=True)
    (plugins / "probe.py").write_text(PROBE)
    env = {
        "HUB_PLUGINS": "probe",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_PROBE_MODE": "upstream",
        "HUB_PROBE_UPSTREAM_URL": f"http://127.0.0.1:{vendor.port}",
        "HUB_PROBE_UPSTREAM_POLL": "0.2",
        "HUB_PROBE_UPSTREAM_TIMEOUT": "2",
        "HUB_PROBE_UPSTREAM_MAX_WAIT": "1",
    }
    env.update({f"HUB_PROBE_UPSTREAM_{k.upper()}": v for k, v in settings.items()})
    async with running_hub(data, env) as hub:
        yield hub


@pytest.fixture
async def probe(tmp_path: Path, wild: WildVendor) -> AsyncIterator[RunningHub]:
    async with probe_hub(tmp_path / "data", wild) as hub:
        yield hub


async def get(hub: RunningHub, path: str) -> tuple[int, dict[str, str], Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.rest_url("probe") + "/read" + path, headers=ADMIN_HEADERS) as resp,
    ):
        body = await resp.read()
        return resp.status, dict(resp.headers), body


ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}


async def post(hub: RunningHub, path: str, body: bytes = b'{"a": 1}') -> tuple[int, bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.rest_url("probe") + "/write" + path, data=body, headers=ADMIN_HEADERS
        ) as resp,
    ):
        return resp.status, await resp.read()


def posts(vendor: WildVendor) -> int:
    return sum(request.method == "POST" for request in vendor.requests)


# -- headers that are not text ---------------------------------------------------------------
@pytest.mark.parametrize(
    "header",
    [b'ETag: "\xff\xfe"', b"Content-Type: text/\xe9", b"Last-Modified: \xff"],
    ids=["etag", "content-type", "last-modified"],
)
async def test_a_header_that_is_not_utf8_is_read_not_a_500(
    tmp_path: Path, wild: WildVendor, header: bytes
) -> None:
    """aiohttp keeps such bytes as surrogates, which SQLite refused: every read was a 500."""
    wild.answer = http(200, b'{"v": 1}', header)
    async with probe_hub(tmp_path / "data", wild, fresh="0.2", revalidate="0.1") as hub:
        status, _, body = await get(hub, "/x")
        assert (status, body) == (200, b'{"v": 1}')
        await asyncio.sleep(0.4)  # past fresh: refreshed, a validator sent back if it had one
        status, _, body = await get(hub, "/x")
        assert (status, body) == (200, b'{"v": 1}')
        assert all("\ufffd" not in v for r in wild.requests for v in r.headers.values())


async def test_a_write_answered_with_a_header_not_utf8_is_answered_once(
    probe: RunningHub, wild: WildVendor
) -> None:
    """The answer could not be kept, so the write was retried and sent again and again."""
    wild.answer = http(201, b'{"id": 7}', b"Content-Type: application/\xe9")
    status, body = await post(probe, "/x")
    assert (status, body) == (201, b'{"id": 7}')
    await asyncio.sleep(1.5)  # a retry would be due by now
    assert posts(wild) == 1


# -- odd statuses ----------------------------------------------------------------------------
async def test_a_1xx_final_answer_is_a_bad_answer(probe: RunningHub, wild: WildVendor) -> None:
    """101 Switching Protocols was cached and served as the vendor's answer (a 101 to the
    client, with no upgrade)."""
    wild.answer = raw(
        b"HTTP/1.1 101 Switching\r\nUpgrade: websocket\r\nConnection: upgrade\r\n\r\n"
    )
    status, _, body = await get(probe, "/x")
    assert status == 502 and b'"upstream_bad_answer"' in body and b"answered 101" in body


@pytest.mark.parametrize(
    ("retry_after", "held"),
    [
        (b"inf", 3600),
        (b"1e400", 3600),
        (b"1e12", 3600),
        (b"Fri, 31 Dec 9999 23:59:59 GMT", 3600),
        (b"nan", 60),  # no number: one window, as when the vendor sends none
        (b"7", 7),
    ],
)
async def test_a_429_holds_the_category_back_an_hour_at_most(
    tmp_path: Path, wild: WildVendor, retry_after: bytes, held: int
) -> None:
    """``inf`` overflowed into a 500 and blocked the category in the shared database for good;
    ``1e12`` blocked it for 31,000 years, restarts included."""
    wild.answer = http(429, b"{}", b"Retry-After: " + retry_after)
    async with probe_hub(tmp_path / "data", wild, budget="100/m") as hub:
        status, headers, body = await get(hub, "/x")
        assert status == 503 and b'"upstream_unavailable"' in body, body
        assert headers["Retry-After"] == str(held)
        (until,) = (
            hub.hub.upstreams["probe"]
            .budget.database.execute("SELECT blocked_until FROM upstream_budget")
            .fetchone()
        )
        assert until - time.time() <= held + 1


# -- two processes, one budget ---------------------------------------------------------------
async def test_a_first_read_waits_for_the_answer_another_process_is_fetching(
    tmp_path: Path, wild: WildVendor
) -> None:
    """With a budget of 1, the process that did not get the slot answered its readers 503 at
    once, while the other one's answer was a moment from landing in the shared cache."""

    async def slow(request: Request, writer: asyncio.StreamWriter) -> None:
        await asyncio.sleep(0.5)
        await http(200, b'{"v": 1}')(request, writer)

    wild.answer = slow
    async with (
        probe_hub(tmp_path / "data", wild, budget="1/30s", max_wait="10") as a,
        probe_hub(tmp_path / "data", wild, budget="1/30s", max_wait="10") as b,
    ):
        answers = await asyncio.gather(get(a, "/x"), get(b, "/x"), get(b, "/x"))
        assert [(s, body) for s, _, body in answers] == [(200, b'{"v": 1}')] * 3
        assert len(wild.requests) == 1
        # nobody fetching: a key whose budget is spent is still refused at once
        started = time.monotonic()
        await asyncio.sleep(2.5)  # past the vendor's timeout: no answer can be on its way
        status, headers, _ = await get(b, "/x?other=key")  # the same category
        assert status == 503 and time.monotonic() - started < 5
        assert int(headers["Retry-After"]) > 20


# -- writes ----------------------------------------------------------------------------------
async def test_a_write_whose_lease_was_taken_over_is_not_sent(
    tmp_path: Path, wild: WildVendor
) -> None:
    """A process that stalled past its lease while the write waited for a budget slot sent it
    all the same when it woke, next to the process that had taken it over: twice."""
    settings = {"budget": "1/2s", "write_wait": "0.5", "write_lease": "60", "max_wait": "10"}
    async with probe_hub(tmp_path / "data", wild, **settings) as hub:
        assert (await get(hub, "/x"))[0] == 200  # the category's one slot is spent
        status, body = await post(hub, "/x")
        assert status == 202, body
        database = hub.hub.upstreams["probe"].writes.database
        with database.write() as db:  # what another process's claim of a lapsed lease writes
            db.execute(
                "UPDATE upstream_writes SET claimed_by = 'another-process', claimed_until = ?",
                (time.time() + 60,),
            )
        await asyncio.sleep(3)  # the slot is free again: this process's attempt goes on
        assert posts(wild) == 0
        (sent_at,) = database.execute("SELECT sent_at FROM upstream_writes").fetchone()
        assert sent_at is None


@pytest.mark.parametrize("write_id", ["%00", "x" * 300, "%F0%9F%98%80", "ABCDEF" * 6])
async def test_a_write_id_that_cannot_be_one_is_a_404(
    probe: RunningHub, wild: WildVendor, write_id: str
) -> None:
    """A NUL in the id was a 400 saying that a value 'cannot be stored' (nothing is)."""
    async with (
        aiohttp.ClientSession() as session,
        session.get(f"{probe.url}/hub/upstream/writes/{write_id}", headers=ADMIN_HEADERS) as r,
    ):
        assert r.status == 404
        error = (await r.json())["error"]
    assert error["reason"] == "write_not_found"
    assert len(error["message"]) < 100, error  # a long id is not sent back whole

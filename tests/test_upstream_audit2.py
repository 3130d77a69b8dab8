"""Upstream mode, second audit: answers that arrive out of order (two processes, a write while a
read is on its way), a clock set back, a vendor answering garbage where JSON was promised, and
a ``ca_file`` that is not certificates. The vendor is the raw loopback server of
:mod:`tests.test_upstream_audit` (:class:`WildVendor`), in front of which a third-party plugin
loaded from ``plugins_dir`` reads and writes through ``hub.upstream``."""

from __future__ import annotations

import asyncio
import contextlib
import subprocess
import sys
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest

from hub.testing.inprocess import RunningHub, running_hub
from hub.testing.process import ADMIN_TOKEN
from tests.hubproc import HubProcess
from tests.test_upstream_audit import PROBE, Request, WildVendor, http
from tests.upstream_support import until

ADMIN_HEADERS = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
JSON = b"Content-Type: application/json"


@pytest.fixture
async def wild() -> AsyncIterator[WildVendor]:
    vendor = WildVendor()
    await vendor.start()
    yield vendor
    await vendor.stop()


def probe_env(data: Path, vendor_url: str, plugin: str = PROBE, **settings: str) -> dict[str, str]:
    plugins = data.parent / f"plugins-{data.name}"
    plugins.mkdir(exist_ok=True)
    (plugins / "probe.py").write_text(plugin)
    env = {
        "HUB_PLUGINS": "probe",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_PROBE_MODE": "upstream",
        "HUB_PROBE_UPSTREAM_URL": vendor_url,
        "HUB_PROBE_UPSTREAM_POLL": "0.2",
        "HUB_PROBE_UPSTREAM_TIMEOUT": "3",
        "HUB_PROBE_UPSTREAM_MAX_WAIT": "1",
    }
    env.update({f"HUB_PROBE_UPSTREAM_{k.upper()}": v for k, v in settings.items()})
    return env


@contextlib.asynccontextmanager
async def probe_hub(
    data: Path, vendor: WildVendor, plugin: str = PROBE, **settings: str
) -> AsyncIterator[RunningHub]:
    env = probe_env(data, f"http://127.0.0.1:{vendor.port}", plugin, **settings)
    async with running_hub(data, env) as hub:
        yield hub


async def get(hub: RunningHub, path: str) -> tuple[int, dict[str, str], bytes]:
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.rest_url("probe") + "/read" + path, headers=ADMIN_HEADERS) as resp,
    ):
        return resp.status, dict(resp.headers), await resp.read()


async def post(hub: RunningHub, path: str, body: bytes = b'{"a": 1}') -> tuple[int, bytes]:
    url = hub.rest_url("probe") + "/write" + path
    async with (
        aiohttp.ClientSession() as session,
        session.post(url, data=body, headers=ADMIN_HEADERS) as resp,
    ):
        return resp.status, await resp.read()


def history(hub: RunningHub, key: str) -> list[bytes]:
    """The contents kept in the key's history, newest first."""
    versions, _ = hub.hub.upstreams["probe"].cache.history(_target(key), 0, 100)
    return [version.body for version in versions]


def _target(key: str) -> Any:
    from hub.upstream import Target

    return Target.of(key)


def gets(vendor: WildVendor) -> int:
    return sum(request.method == "GET" for request in vendor.requests)


# -- answers that arrive out of order --------------------------------------------------------
async def test_an_older_answer_landing_late_does_not_replace_a_newer_one(
    tmp_path: Path, wild: WildVendor
) -> None:
    """Two processes on one data directory fetch a key: the first request is slow, the second
    fast. The slow, older answer was stored over the newer one, served as fresh, and kept in
    the history as the latest version (a change back, fired to subscribers as one)."""
    answered = 0

    async def first_slow(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal answered
        answered += 1
        if answered == 1:
            await asyncio.sleep(1.5)
            await http(200, b'{"v": "old"}', JSON)(request, writer)
        else:
            await http(200, b'{"v": "new"}', JSON)(request, writer)

    wild.answer = first_slow
    settings = {"fresh": "60", "max_wait": "5"}
    async with (
        probe_hub(tmp_path / "data", wild, **settings) as a,
        probe_hub(tmp_path / "data", wild, **settings) as b,
    ):
        slow = asyncio.ensure_future(get(a, "/x"))
        await until(lambda: _sent(wild, 1), "the first request reached the vendor")
        assert (await get(b, "/x"))[2] == b'{"v": "new"}'
        assert (await slow)[2] == b'{"v": "old"}'  # its reader asked before the change
        for hub in (a, b):
            assert (await get(hub, "/x"))[2] == b'{"v": "new"}'
        assert history(a, "/x") == [b'{"v": "new"}']


async def _sent(vendor: WildVendor, count: int) -> bool:
    return len(vendor.requests) >= count


def slow_until_written() -> Any:
    """A vendor whose reads take 1.5 s and list nothing until a POST, then at once list one
    item: a read on its way across a write."""
    written = False

    async def vendor(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal written
        if request.method == "POST":
            written = True
            await http(201, b'{"id": 1}', JSON)(request, writer)
        elif written:
            await http(200, b'{"items": [1]}', JSON)(request, writer)
        else:
            await asyncio.sleep(1.5)
            await http(200, b'{"items": []}', JSON)(request, writer)

    return vendor


async def test_a_read_on_its_way_when_a_write_lands_is_not_served_after_it(
    tmp_path: Path, wild: WildVendor
) -> None:
    """A read sent before a write was answered came back after it: readers who came after the
    write shared that fetch, and its pre-write answer was cached as fresh over the write's
    invalidation, so a read after the write did not see it."""
    wild.answer = slow_until_written()
    async with probe_hub(tmp_path / "data", wild, fresh="60") as hub:
        before = asyncio.ensure_future(get(hub, "/x"))
        await until(lambda: _sent(wild, 1), "the read reached the vendor")
        assert (await post(hub, "/x"))[0] == 201
        after = await get(hub, "/x")  # the earlier read is still on its way
        assert (after[0], after[2]) == (200, b'{"items": [1]}')
        assert (await before)[2] == b'{"items": []}'  # asked before the write was answered
        assert (await get(hub, "/x"))[2] == b'{"items": [1]}'


async def test_a_first_read_on_its_way_in_another_process_when_a_write_lands_is_not_kept(
    tmp_path: Path, wild: WildVendor
) -> None:
    """Two processes: one reads a key never cached (a query under the path), the other writes
    the path while that read is on its way. The read's pre-write answer was cached (no row of
    the key was there to mark, and only this process's own fetches were marked), so every
    later read of the key was served the state before the write until it aged past fresh."""
    wild.answer = slow_until_written()
    async with (
        probe_hub(tmp_path / "data", wild, fresh="60") as a,
        probe_hub(tmp_path / "data", wild, fresh="60") as b,
    ):
        before = asyncio.ensure_future(get(a, "/x?page=2"))
        await until(lambda: _sent(wild, 1), "the read reached the vendor")
        assert (await post(b, "/x"))[0] == 201
        assert (await before)[2] == b'{"items": []}'  # asked before the write was answered
        for hub in (a, b):
            assert (await get(hub, "/x?page=2"))[2] == b'{"items": [1]}'


# -- the clock set back ----------------------------------------------------------------------
async def test_answers_fetched_before_the_clock_was_set_back_are_refreshed(
    tmp_path: Path, wild: WildVendor
) -> None:
    """The clock set back an hour after a fetch (what NTP or a restored VM does): the answer,
    fetched 'in the future', was served as fresh with ``Age: 0`` for that hour, the poller
    never refreshed it, and the budget waited out the hour before another request."""
    count = 0

    async def counting(request: Request, writer: asyncio.StreamWriter) -> None:
        nonlocal count
        count += 1
        await http(200, b'{"n": %d}' % count, JSON)(request, writer)

    wild.answer = counting
    async with probe_hub(tmp_path / "data", wild, budget="1/1s", fresh="2") as hub:
        assert (await get(hub, "/x"))[2] == b'{"n": 1}'
        database = hub.hub.upstreams["probe"].cache.database
        hour = 3600.0
        with database.write() as db:  # as written an hour ahead of the clock as it is now
            db.execute("UPDATE upstream_cache SET fetched_at = fetched_at + ?", (hour,))
            db.execute(
                "UPDATE upstream_budget SET sent = ?",
                (orjson.dumps([time.time() + hour]).decode(),),
            )

        async def refreshed() -> bool:
            status, headers, body = await get(hub, "/x")
            return status == 200 and body == b'{"n": 2}' and int(headers["Age"]) < 60

        await until(refreshed, "a refreshed answer after the clock was set back")


# -- garbage where JSON was promised ---------------------------------------------------------
async def test_an_answer_that_says_json_but_is_not_is_a_bad_answer_served_stale_over(
    tmp_path: Path, wild: WildVendor
) -> None:
    """A vendor (or a proxy in front of it) answering 200 ``application/json`` with an HTML
    page: the page replaced the good answer, was served to every reader as the vendor's, and
    went into the history as a change, although the guide says an unreadable answer is a 502
    only while nothing servable is cached."""
    wild.answer = http(200, b'{"v": 1}', JSON)
    async with probe_hub(tmp_path / "data", wild, fresh="0.2", revalidate="0.1") as hub:
        assert (await get(hub, "/x"))[2] == b'{"v": 1}'
        wild.answer = http(200, b"<html>maintenance</html>", JSON)
        await asyncio.sleep(0.5)  # past fresh and revalidate: the next read asks the vendor
        status, headers, body = await get(hub, "/x")
        assert (status, body) == (200, b'{"v": 1}')
        assert headers.get("Hub-Upstream-Stale") == "1"
        assert gets(wild) >= 2
        assert history(hub, "/x") == [b'{"v": 1}']


async def test_a_vendor_said_to_answer_json_only_has_an_html_page_refused(
    tmp_path: Path, wild: WildVendor
) -> None:
    """By default a page sent as ``text/html`` is the vendor's answer (Webim's info.php is
    one); a plugin whose vendor answers JSON only says so with ``unreadable=json_only``."""
    wild.answer = http(200, b"<html>sign in</html>", b"Content-Type: text/html")
    async with probe_hub(tmp_path / "lenient", wild) as hub:
        assert (await get(hub, "/y"))[::2] == (200, b"<html>sign in</html>")
    strict = PROBE.replace("Write, check_mode", "Write, check_mode, json_only").replace(
        '"Bearer vendor-secret"}),', '"Bearer vendor-secret"}), unreadable=json_only,'
    )
    assert strict.count("unreadable=json_only") == 1
    async with probe_hub(tmp_path / "strict", wild, strict) as hub:
        status, _, body = await get(hub, "/y")
        assert status == 502 and b'"upstream_bad_answer"' in body, body
        assert b"text/html that is not JSON" in body


# -- configuration ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    "content", [b"not a certificate\n", b"\x30\x82\x01\x0a" * 20], ids=["text", "der"]
)
def test_a_ca_file_that_is_not_pem_certificates_stops_the_start(
    tmp_path: Path, content: bytes
) -> None:
    """It passed the check (the file exists) and every request to the vendor then raised
    ``ssl.SSLError``, which no handler expected: a 500 to every reader."""
    ca_file = tmp_path / "vendor-ca.pem"
    ca_file.write_bytes(content)
    env = probe_env(tmp_path / "data", "https://127.0.0.1:9", ca_file=str(ca_file))
    hub = HubProcess(tmp_path / "data", env=env)
    serve = [sys.executable, "-m", "hub.cli", "--data-dir", str(hub.data_dir), "serve"]
    ports = ["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]
    try:
        done = subprocess.run(
            [*serve, *ports], env=hub.env, capture_output=True, text=True, timeout=30
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the hub started with a ca_file that holds no certificate")
    output = (done.stdout + done.stderr).strip()
    assert done.returncode != 0, output
    assert "Traceback" not in output
    lines = [line for line in output.splitlines() if "plugins.probe.upstream.ca_file" in line]
    assert len(lines) == 1, output

"""The operators' status page at ``/``: a real hub with monitorozas checking a real HTTP server
on loopback. The page and its assets come from the hub alone; the admin's ``hub { status }`` and
``hubStatus`` subscription carry what it shows; a headless Chromium (Debian's ``chromium``,
driven by playwright) with every other host blocked enters the admin token, sees the device up,
then down once the server stops (through the subscription, no reload), and takes a screenshot."""

from __future__ import annotations

import json
import re
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from hub.queue import QUEUE_COLUMNS, Claim, Table, WorkQueue, dead, done
from hub.storage import SQLiteDatabase as Database
from tests.browser import hub_only_page
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.monitorozas_support import Api, wait_for
from tests.static_pages import get

ASSET_TYPES = {"status.js": "text/javascript", "status.css": "text/css"}
SVG_NAMESPACE = "http://www.w3.org/2000/svg"  # a name, never fetched
STATUS = "{ hub { status } }"
SUBSCRIBE = "subscription($s: Int!) { hubStatus(intervalSeconds: $s) }"


class Target:
    """An HTTP server on loopback that answers 200 until :meth:`stop`."""

    def __init__(self) -> None:
        class Ok(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Ok)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def stop(self) -> None:
        if self.thread.is_alive():
            self.server.shutdown()
            self.server.server_close()
            self.thread.join()


@pytest.fixture
def target() -> Iterator[Target]:
    server = Target()
    yield server
    server.stop()


@pytest.fixture
def hub(tmp_path: Path) -> Iterator[HubProcess]:
    env = {
        "HUB_PLUGINS": "monitorozas",
        "HUB_MONITOROZAS_INTERVAL": "1",
        "HUB_MONITOROZAS_SCHEDULER_TICK": "0.1",
        "HUB_MONITOROZAS_TIMEOUT": "1.5",
    }
    process = HubProcess(tmp_path / "hub", env=env).start()
    yield process
    process.stop()


def add_device(hub: HubProcess, port: int) -> int:
    key = hub.creds("monitorozas", user="ops", scopes="read,write")["key"]
    body = {
        "target_type": "ip",
        "target_value": "127.0.0.1",
        "service_type": "web",
        "scheme": "http",
        "port": port,
    }
    status, _, answer = Api(hub.http).call("POST", "/devices/create", key, body)
    assert status == 201, answer
    return int(answer["data"]["id"])


def graphql(hub: HubProcess, query: str, token: str | None = ADMIN_TOKEN) -> Any:
    return Api(hub.http).graphql(query, token)


def panel(status: dict[str, Any], plugin: str, name: str) -> dict[str, Any]:
    return next(p for p in status["panels"] if (p["plugin"], p["name"]) == (plugin, name))


# --- without a browser -----------------------------------------------------------------------


def test_page_and_assets_come_from_the_hub_alone(hub: HubProcess) -> None:
    status, headers, body = get(hub.url + "/")
    assert status == 200, body
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in headers["Content-Security-Policy"]
    assert "connect-src 'self'" in headers["Content-Security-Policy"]
    referenced = re.findall(r'(?:src|href)="([^"]+)"', body.decode())
    # named by their content's hash, so a browser never runs a stale one after an upgrade
    assert sorted(r.split("?v=")[0] for r in referenced) == [
        "/static/status/status.css",
        "/static/status/status.js",
    ]
    texts = [body]
    for asset in referenced:
        status, asset_headers, asset_body = get(hub.url + asset)
        assert status == 200, asset
        name = asset.split("?")[0].rsplit("/", 1)[1]
        assert asset_headers["Content-Type"] == f"{ASSET_TYPES[name]}; charset=utf-8"
        assert get(hub.url + asset, {"If-None-Match": asset_headers["ETag"]})[0] == 304
        texts.append(asset_body)
    for text in texts:  # nothing names another host: no CDN, no font service
        urls = set(re.findall(rb"(?:https?:)?//[\w.-]+\.[a-z]{2,}[^\s\"')]*", text))
        assert urls <= {SVG_NAMESPACE.encode()}, urls
    status, _, body = get(hub.url + "/static/status/nothing.js")
    assert status == 404 and json.loads(body)["error"]["reason"] == "not_found"


def test_status_snapshot_is_the_admins(hub: HubProcess, target: Target) -> None:
    add_device(hub, target.port)
    refused = graphql(hub, STATUS, None)
    assert refused["data"] is None and refused["errors"], refused
    status = wait_for(
        lambda: (
            (s := graphql(hub, STATUS)["data"]["hub"]["status"])
            and panel(s, "monitorozas", "devices")["data"]["devices"]["up"] == 1
            and s
        ),
        15,
        "the device is not up on the status snapshot",
    )
    assert status["ready"] is True
    assert {p["plugin"] for p in status["plugins"]} == {"hub", "monitorozas"}
    assert all(p["status"] == "ok" and p["probes"] for p in status["plugins"])
    assert status["upstreams"] == []  # monitorozas checks itself here
    checks = next(q for q in status["queues"] if q["name"] == "monitorozas.checks")
    assert checks["dead"] == 0 and checks["depth"] >= 0
    latency = panel(status, "monitorozas", "devices")["data"]["check_latency_ms"]
    assert latency["checks"] >= 1 and latency["p50"] is not None
    timers = panel(status, "hub", "timers")["data"]["timers"]
    assert "hub.status.sample" in {t["timer"] for t in timers}
    assert status["sample_seconds"] == 10


async def test_subscription_streams_snapshots_and_new_samples(
    hub: HubProcess, target: Target
) -> None:
    add_device(hub, target.port)
    url = hub.url + "/graphql"
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(url, protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json(
            {"type": "connection_init", "payload": {"Authorization": f"Bearer {ADMIN_TOKEN}"}}
        )
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"s": 0}}
        await ws.send_json({"id": "bad", "type": "subscribe", "payload": payload})
        refused = await ws.receive_json(timeout=10)
        assert "intervalSeconds" in json.dumps(refused), refused
        assert await ws.receive_json(timeout=10) == {"id": "bad", "type": "complete"}
        payload = {"query": SUBSCRIBE, "variables": {"s": 1}}
        await ws.send_json({"id": "s", "type": "subscribe", "payload": payload})
        seen: list[dict[str, Any]] = []
        # the sampler runs every 10 s: within 40 s two snapshots carry new samples
        while len([s for s in seen if s["samples"]]) < 2 and len(seen) < 40:
            message = await ws.receive_json(timeout=10)
            assert message["type"] == "next", message
            seen.append(message["payload"]["data"]["hubStatus"])
    first_at = [s["at"] for s in seen[0]["samples"]]
    with_samples = [s for s in seen if s["samples"]]
    ats = [sample["at"] for s in with_samples for sample in s["samples"]]
    assert len(ats) == len(set(ats)), "a sample was sent twice"
    assert all(at > max(first_at, default=0) for at in ats[len(first_at) :])
    latest = with_samples[-1]["samples"][-1]
    assert set(latest) == {"at", "requests_per_second", "queues", "series"}
    assert "monitorozas.checks" in latest["queues"]
    assert "monitorozas.devices.check_latency_ms.p50" in latest["series"]
    assert "monitorozas.devices.devices.down" in latest["series"]
    assert latest["requests_per_second"] is None or latest["requests_per_second"] >= 0


async def test_subscription_needs_the_admin_token(hub: HubProcess) -> None:
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(hub.url + "/graphql", protocols=["graphql-transport-ws"]) as ws,
    ):
        await ws.send_json({"type": "connection_init", "payload": {}})
        assert (await ws.receive_json(timeout=10))["type"] == "connection_ack"
        payload = {"query": SUBSCRIBE, "variables": {"s": 1}}
        await ws.send_json({"id": "s", "type": "subscribe", "payload": payload})
        message = await ws.receive_json(timeout=10)
        assert message["type"] in ("next", "error"), message
        assert "admin" in json.dumps(message).lower(), message


def test_dead_letters_are_counted(tmp_path: Path) -> None:
    database = Database(tmp_path / "queue.db")
    with database.write() as db:
        db.execute(f"CREATE TABLE jobs (id TEXT PRIMARY KEY, kind TEXT, {QUEUE_COLUMNS})")

    async def handler(claim: Claim) -> Any:
        return dead("gone") if claim.key.startswith("bad") else done()

    queue = WorkQueue(
        database, "jobs", handler, Table("jobs", where="kind = 'mine'"), interval=1, lease=5
    )
    with database.write() as db:
        for ident in ("bad-1", "bad-2", "good"):
            queue.enqueue(db, {"id": ident, "kind": "mine"})
        db.execute("INSERT INTO jobs (id, kind, status) VALUES ('other', 'theirs', 'dead')")
    assert queue.dead() == 0
    for claim in queue.claim(10):
        assert queue.settle(claim, dead("gone") if claim.key.startswith("bad") else done())
    assert queue.dead() == 2  # the row outside the queue's where is not its dead letter


# --- in a browser ----------------------------------------------------------------------------


@pytest.fixture
def browser_page(hub: HubProcess) -> Iterator[tuple[Any, list[str], list[Any]]]:
    """A Chromium page that reaches the hub's address only (tests/browser.py)."""
    with hub_only_page(hub.url, viewport={"width": 1280, "height": 1000}) as browsing:
        yield browsing.page, browsing.blocked, browsing.sockets


def test_page_shows_a_device_going_down_live(
    hub: HubProcess, target: Target, browser_page: tuple[Any, list[str], list[Any]], tmp_path: Path
) -> None:
    page, blocked, sockets = browser_page
    add_device(hub, target.port)
    errors: list[str] = []
    page.on("pageerror", lambda error: errors.append(str(error)))
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    frames: list[str] = []
    page.on("websocket", lambda ws: ws.on("framereceived", lambda f: frames.append(str(f))))

    page.goto(hub.url + "/")
    page.fill("#token", "not the token")
    page.click("#login button[type=submit]")
    page.wait_for_selector("#login-error:has-text('admin')")
    page.fill("#token", ADMIN_TOKEN)
    page.click("#login button[type=submit]")
    up = page.locator('[data-path="monitorozas.devices.devices.up"]')
    down = page.locator('[data-path="monitorozas.devices.devices.down"]')
    page.wait_for_function(
        "() => document.querySelector('[data-path=\"monitorozas.devices.devices.up\"]')"
        "?.textContent === '1'",
        timeout=30_000,
    )
    assert down.text_content() == "0"
    assert page.locator('tr[data-plugin="monitorozas"]').get_attribute("data-status") == "ok"
    assert page.locator('tr[data-queue="monitorozas.checks"]').count() == 1
    page.wait_for_selector(".link.live", timeout=15_000)
    posts_before = len(posts)

    target.stop()
    page.wait_for_function(
        "() => document.querySelector('[data-path=\"monitorozas.devices.devices.down\"]')"
        "?.textContent === '1'",
        timeout=30_000,
    )
    assert up.text_content() == "0"
    assert len(posts) == posts_before, "the page polled instead of following the subscription"
    assert any("hubStatus" in frame for frame in frames)
    assert [s.url for s in sockets] == [hub.url.replace("http://", "ws://") + "/graphql"]
    # the token stays for this tab: a reload needs no second prompt
    page.reload()
    page.wait_for_selector("#status:not([hidden])", timeout=15_000)

    screenshot = tmp_path / "status.png"
    page.screenshot(path=str(screenshot), full_page=True)
    data = screenshot.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n") and len(data) > 10_000
    assert blocked == []
    assert errors == []


def test_a_token_in_the_fragment_signs_in_and_leaves_the_address(
    hub: HubProcess, browser_page: tuple[Any, list[str], list[Any]]
) -> None:
    """``/#token=...`` for a bookmark or a kiosk: never sent to the hub, taken off the address."""
    page, blocked, _ = browser_page
    page.goto(f"{hub.url}/#token={ADMIN_TOKEN}")
    page.wait_for_selector("#status:not([hidden])", timeout=15_000)
    assert page.evaluate("location.hash") == ""
    assert blocked == []

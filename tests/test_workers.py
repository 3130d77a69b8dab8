"""``hub serve --workers 2`` end to end, as users run it: connections (HTTP, gRPC, websockets)
reach both workers, a subscription on one worker hears a mutation made through the other, a
periodic job runs once per interval and moves on when its worker dies, a killed worker is replaced
without the port ever refusing a connection, rate limits and credentials hold across workers,
/metrics and webim report the whole hub, a foreign hub on the same ports fails, SIGTERM drains
every worker, a crash loop stops the hub with one line; also jobs that outlive a busy
coordination database and workers that do not outlive a supervisor killed outright.

One hub serves the tests that do not end it; they run in the order of this file (the last of
them stop and restart it). The crash loop has a hub of its own."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import re
import signal
import socket
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp
import grpc
import pytest
from hub_unspot.v1 import unspot_pb2 as pb
from prometheus_client.parser import text_string_to_metric_families

from hub.storage import Engine
from hub.storage.sqlite import BUSY_TIMEOUT_MS
from hub.v1 import hub_pb2, hub_pb2_grpc
from hub.workers import STOP_MARGIN as SUPERVISOR_MARGIN
from tests.hubproc import ADMIN_TOKEN, LISTENING, HubProcess
from tests.promtool import promtool_check
from tests.unspot_helpers import BASE, SEED_401, SEED_429, grpc_call
from tests.webim_client import service_login
from tests.workers_support import (
    CRASHER,
    REFUSER,
    TICK_INTERVAL,
    TICKER,
    Answer,
    accepted,
    fetch,
    gaps,
    holder,
    new_connections,
    port_of,
    read_listening,
    replaced,
    serve_apart,
    ticks,
    until_workers,
    worker_pids,
)
from tests.ws_client import next_message

SHUTDOWN_TIMEOUT = 4.0
STORAGER_INTERVAL = 0.5
RATE_WINDOW = 30  # unspot's default: one REST request per token and category in 30 s
ADMIN = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
CALLS = "hub_grpc_calls_total"


@dataclass
class Shared:
    """The module's hub, where its plugins_dir is and what the tests learn about it."""

    process: HubProcess
    plugins: Path
    started: float  # time.time() before ``hub serve`` ran
    ready: float  # ... and once it announced its addresses
    seen: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return self.process.url


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Shared]:
    root = Path(tmp_path_factory.mktemp("workers"))
    plugins = root / "plugins"
    plugins.mkdir()
    (plugins / "ticker.py").write_text(TICKER)
    env = {
        "HUB_PLUGINS": "unspot,webim,ticker",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_WEBIM_STORAGER_INTERVAL": str(STORAGER_INTERVAL),
        "HUB_SHUTDOWN_TIMEOUT": str(SHUTDOWN_TIMEOUT),
    }
    started = time.time()
    process = HubProcess(root / "data", env=env, args=["--workers", "2"]).start(timeout=120)
    shared = Shared(process, plugins, started, time.time())
    yield shared
    process.stop()


@pytest.fixture(scope="module")
def webim_auth(hub: Shared) -> str:
    return service_login(hub.process, "monitoring")


def listening_lines(process: HubProcess) -> list[str]:
    return [line for line in process.output if LISTENING.match(line.strip())]


def total(text: str, name: str, **labels: str) -> float:
    """The sum of every sample of ``name`` whose labels include ``labels``."""
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


def owner_token(hub: Shared) -> str:
    return str(grpc_call(hub.process, "CreateUser", pb.CreateUserRequest(role="owner")).token)


# -- 1. connections reach both workers --------------------------------------------------------
async def test_http_connections_reach_both_workers(hub: Shared) -> None:
    assert len(listening_lines(hub.process)) == 2, hub.process.output  # announced once
    async with new_connections() as session:
        answers = [await fetch(session, "GET", hub.url + "/healthz") for _ in range(30)]
    pids: dict[int, set[int]] = {}
    for answer in answers:
        health = json.loads(answer.body)
        assert answer.status == 200 and health["worker"] == answer.worker, answer
        pids.setdefault(health["worker"], set()).add(health["pid"])
    assert set(pids) == {0, 1}, [a.worker for a in answers]
    assert all(len(p) == 1 for p in pids.values()) and pids[0] != pids[1]
    assert hub.process.proc is not None and hub.process.proc.pid not in pids[0] | pids[1]


async def test_grpc_connections_reach_both_workers(hub: Shared) -> None:
    """Which worker served a call is which process holds the server side of its connection."""
    pids = await worker_pids(hub.url)
    port = port_of(hub.process.grpc)
    async with new_connections() as session:
        before = total((await fetch(session, "GET", hub.url + "/metrics")).body.decode(), CALLS)
    served: list[int] = []
    while len(served) < 30 and not (set(served) == {0, 1} and len(served) >= 6):
        held = accepted(pids, port)
        # its own subchannel pool: a new channel is a new connection, not a shared one
        options = [("grpc.use_local_subchannel_pool", 1)]
        async with grpc.aio.insecure_channel(hub.process.grpc, options=options) as channel:
            reply = await hub_pb2_grpc.HubStub(channel).ListPlugins(
                hub_pb2.ListPluginsRequest(), timeout=10
            )
            assert {"unspot", "webim", "ticker"} <= {p.name for p in reply.plugins}
            now = accepted(pids, port)
            (index,) = [i for i in pids if now[i] - held[i]]
            served.append(index)
    assert set(served) == {0, 1}, served
    async with new_connections() as session:
        after = total((await fetch(session, "GET", hub.url + "/metrics")).body.decode(), CALLS)
    assert after - before == len(served)  # every worker's calls, counted once


async def test_a_websocket_upgrade_names_its_worker(hub: Shared) -> None:
    pids = await worker_pids(hub.url)
    named: dict[int, str | None] = {}
    async with new_connections() as session:
        for _ in range(30):
            async with session.ws_connect(
                hub.url + "/graphql", protocols=["graphql-transport-ws"]
            ) as ws:
                index = holder(pids, port_of(hub.process.http), ws.get_extra_info("sockname")[1])
                named[index] = ws._response.headers.get("Hub-Worker")
            if len(named) == 2:
                break
    assert named == {0: "0", 1: "1"}


# -- 2. a subscription on one worker hears a mutation made through the other ---------------
SET_STATUS = 'mutation {{ unspotSetDisplayStatus(id: "bus-1", status: "{}") {{ id }} }}'
SUBSCRIPTION = "subscription { unspotDisplayStatusChanged { id status previousStatus } }"


async def _subscribers_on(session: aiohttp.ClientSession, url: str, worker: int) -> str:
    """The unspot probe's subscriber count as worker ``worker`` reports it."""
    while True:
        answer = await fetch(session, "GET", url + "/readyz", headers=ADMIN)
        if answer.worker == worker:
            (probe,) = [p for p in json.loads(answer.body)["probes"] if p["plugin"] == "unspot"]
            return str(probe["detail"]).split("subscribers: ")[1]


async def _subscribed_on(
    session: aiohttp.ClientSession, hub: Shared, index: int, token: str
) -> aiohttp.ClientWebSocketResponse:
    """A graphql-transport-ws subscription on a connection worker ``index`` holds."""
    pids = await worker_pids(hub.url)
    for _ in range(40):
        ws = await session.ws_connect(hub.url + "/graphql", protocols=["graphql-transport-ws"])
        if holder(pids, port_of(hub.process.http), ws.get_extra_info("sockname")[1]) == index:
            break
        await ws.close()
    else:
        raise AssertionError(f"no websocket reached worker {index}")
    await ws.send_json({"type": "connection_init", "payload": {"Authorization": f"Bearer {token}"}})
    assert (await next_message(ws))["type"] == "connection_ack"
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": SUBSCRIPTION}})
    return ws


async def _until_subscribed(session: aiohttp.ClientSession, hub: Shared, count: int) -> None:
    """Until both workers count ``count`` subscribers in the hub (none is acknowledged)."""
    deadline = time.monotonic() + 10
    for index in (0, 1):
        while await _subscribers_on(session, hub.url, index) != str(count):
            assert time.monotonic() < deadline, "the subscriptions never started"
            await asyncio.sleep(0.05)


async def _change_status(
    session: aiohttp.ClientSession, hub: Shared, each: int
) -> tuple[list[tuple[str, str]], list[int | None]]:
    """Status changes of bus-1, each on a new connection, until each worker has made ``each``:
    (status, previous status) of every change, and the worker that made it."""
    sent: list[tuple[str, str]] = []
    served: list[int | None] = []
    status = "online"
    while served.count(0) < each or served.count(1) < each:
        assert len(served) < 40, served
        previous, status = status, "offline" if status == "online" else "online"
        answer = await fetch(
            session,
            "POST",
            hub.url + "/graphql",
            json={"query": SET_STATUS.format(status)},
            headers=ADMIN,
        )
        assert answer.status == 200 and b"errors" not in answer.body, answer
        sent.append((status, previous))
        served.append(answer.worker)
    return sent, served


async def _heard(ws: aiohttp.ClientWebSocketResponse, count: int) -> list[tuple[str, str]]:
    heard = []
    for _ in range(count):
        message = await next_message(ws)
        assert message["type"] == "next" and message["id"] == "1", message
        change = message["payload"]["data"]["unspotDisplayStatusChanged"]
        assert change["id"] == "bus-1"
        heard.append((change["status"], change["previousStatus"]))
    return heard


async def _display_online(hub: Shared) -> None:
    display = pb.UpsertDisplayRequest(id="bus-1", name="Bus", status="online")
    grpc_call(hub.process, "UpsertDisplay", display)


async def test_a_subscriber_on_worker_0_hears_mutations_made_through_worker_1(hub: Shared) -> None:
    await _display_online(hub)
    async with new_connections() as session:
        ws = await _subscribed_on(session, hub, 0, owner_token(hub))
        try:
            await _until_subscribed(session, hub, 1)
            sent, served = await _change_status(session, hub, each=2)
            assert await _heard(ws, len(sent)) == sent, served  # all, in the order made
        finally:
            await ws.close()


# -- 5. rate limits stay exact across workers ---------------------------------------------
async def test_the_rate_limit_is_exact_under_load_over_both_workers(hub: Shared) -> None:
    token = owner_token(hub)
    headers = {"Authorization": f"Bearer {token}"}
    async with new_connections() as session:
        answers = await asyncio.gather(
            *(
                fetch(session, "GET", hub.url + BASE + "/displays", headers=headers)
                for _ in range(40)
            )
        )
    assert {a.worker for a in answers} == {0, 1}
    assert sorted(a.status for a in answers) == [200] + [429] * 39
    for answer in answers:
        if answer.status == 429:
            assert answer.body == SEED_429
            assert 1 <= int(answer.headers["Retry-After"]) <= RATE_WINDOW


# -- 7. the CLI while the hub runs --------------------------------------------------------
MONITORING = "{ unspot { monitoring { displays { id } } } }"


async def _graphql_everywhere(hub: Shared, token: str) -> list[Answer]:
    """The same query with ``token``, on new connections until both workers have answered."""
    async with new_connections() as session:
        return await until_workers(
            session,
            "POST",
            hub.url + "/graphql",
            {0, 1},
            json={"query": MONITORING},
            headers={"Authorization": f"Bearer {token}"},
        )


async def test_cli_creds_add_and_revoke_are_seen_by_both_workers_at_once(hub: Shared) -> None:
    issued = hub.process.creds("unspot", role="owner")
    for answer in await _graphql_everywhere(hub, issued["token"]):  # the first one too
        body = json.loads(answer.body)
        assert "errors" not in body and body["data"]["unspot"]["monitoring"], (answer.worker, body)
    (credential,) = [
        c
        for c in json.loads(hub.process.cli("creds", "list", "unspot").stdout)
        if c["attrs"].get("user_id") == issued["user_id"]
    ]
    hub.process.cli("creds", "revoke", "unspot", credential["id"])
    plugins = json.loads(hub.process.cli("plugins").stdout)  # the other commands work too
    assert {"unspot", "webim", "ticker"} <= {p["name"] for p in plugins}, plugins
    for answer in await _graphql_everywhere(hub, issued["token"]):
        error = json.loads(answer.body)["errors"][0]
        assert error["extensions"]["code"] == "UNAUTHENTICATED", (answer.worker, error)
    async with new_connections() as session:
        rest = await until_workers(
            session,
            "GET",
            hub.url + BASE + "/displays",
            {0, 1},
            headers={"Authorization": f"Bearer {issued['token']}"},
        )
    assert {(a.status, a.body) for a in rest} == {(401, SEED_401)}


# -- 11. /metrics of the whole hub --------------------------------------------------------
async def test_metrics_from_either_worker_count_the_whole_hub(hub: Shared) -> None:
    """Nothing else talks to the hub meanwhile: each scrape counts the one before it, whichever
    worker served either."""
    async with new_connections() as session:
        answers = [await fetch(session, "GET", hub.url + "/metrics") for _ in range(16)]
    assert {a.worker for a in answers} == {0, 1}
    served = [total(a.body.decode(), "hub_http_requests_total") for a in answers]
    assert gaps(served) == [1.0] * 15, served
    for index in (0, 1):
        body = next(a for a in answers if a.worker == index).body.decode()
        promtool_check(body, or_skip=False)


# -- 10. webim: one instance id, timer statistics of the whole hub -----------------------------
async def test_webim_reports_one_instance_and_every_workers_timer_runs(
    hub: Shared, webim_auth: str
) -> None:
    headers = {"Authorization": webim_auth}
    async with new_connections() as session:
        ids = await until_workers(
            session, "GET", hub.url + "/webim/l/i/instance-id", {0, 1}, headers=headers
        )
        assert len({a.body for a in ids}) == 1 and re.fullmatch(rb"[0-9a-f]{32}", ids[0].body)
        hub.seen["instance"] = ids[0].body.decode()
        monitors = await until_workers(
            session, "GET", hub.url + "/webim/l/a/monitor", {0, 1}, headers=headers
        )
        assert len({json.loads(a.body)["mainInfo"]["startTs"] for a in monitors}) == 1
        await asyncio.sleep(max(0.0, hub.ready + 6 - time.time()))
        stats = await until_workers(
            session, "GET", hub.url + "/webim/l/a/monitor/timer-stats", {0, 1}, headers=headers
        )
        now = time.time()
    runs = [t for t, _ in ticks(hub.plugins) if t >= now - 60]
    for answer in stats:
        last_min = json.loads(answer.body)["last_min"]
        # the ticker's runs, whichever worker ran them: as many as it wrote (one may be running)
        assert len(runs) - 1 <= last_min["timer: ticker.tick"]["count"] <= len(runs) + 1
        # the storager's: one per interval since the start, neither doubled nor halved
        count = last_min["timer: webim.storager"]["count"]
        most = min(now - hub.started, 60) / STORAGER_INTERVAL + 2
        least = 0.6 * min(now - hub.ready, 60) / STORAGER_INTERVAL
        assert least <= count <= most, (answer.worker, count, least, most)


# -- 3. a periodic job runs once per interval, and moves on when its worker dies ----------------
async def test_a_periodic_job_runs_once_per_interval_and_survives_its_worker(hub: Shared) -> None:
    await asyncio.sleep(max(0.0, hub.ready + 6 - time.time()))
    pids = await worker_pids(hub.url)
    runs = [(t, pid) for t, pid in ticks(hub.plugins) if t >= hub.ready]
    assert len(runs) >= 8 and {pid for _, pid in runs} <= set(pids.values())
    between = gaps([t for t, _ in runs])
    assert min(between) >= 0.9 * TICK_INTERVAL, between  # never two runs in one interval
    span = runs[-1][0] - runs[0][0]
    assert span / TICK_INTERVAL * 0.6 <= len(between) <= span / TICK_INTERVAL + 1, (span, between)

    victim = runs[-1][1]
    index = {pid: i for i, pid in pids.items()}[victim]
    os.kill(victim, signal.SIGKILL)
    killed = time.time()
    deadline = killed + 10
    while not [t for t, pid in ticks(hub.plugins) if pid != victim and t > killed]:
        assert time.time() < deadline, "no worker took the job over"
        await asyncio.sleep(0.05)
    await replaced(hub.url, index, victim)
    await asyncio.sleep(2 * TICK_INTERVAL)
    runs = ticks(hub.plugins)
    last = max(t for t, pid in runs if pid == victim)
    taken = min(t for t, pid in runs if pid != victim and t > last)
    assert taken - last <= 2 * TICK_INTERVAL + 0.5, taken - last  # within two intervals
    after = [t for t, _ in runs if t >= last]
    assert min(gaps(after)) >= 0.9 * TICK_INTERVAL, gaps(after)


# -- 4. a killed worker is replaced, and the port never refuses -----------------------------
async def test_a_killed_worker_is_replaced_and_the_port_never_refuses(hub: Shared) -> None:
    pids = await worker_pids(hub.url)
    host, port = hub.process.http.rsplit(":", 1)
    counts = {"refused": 0, "answered": 0, "failed": 0}

    async def attempt() -> None:
        try:
            reader, writer = await asyncio.wait_for(asyncio.open_connection(host, int(port)), 5)
        except ConnectionRefusedError:
            counts["refused"] += 1
            return
        try:  # a request on the killed worker may fail: only refused connections count
            writer.write(b"GET /healthz HTTP/1.1\r\nHost: hub\r\nConnection: close\r\n\r\n")
            reply = await asyncio.wait_for(reader.read(), 10)
            counts["answered" if reply.startswith(b"HTTP/1.1 200") else "failed"] += 1
        except (OSError, TimeoutError):
            counts["failed"] += 1
        finally:
            writer.close()

    stop = asyncio.Event()

    async def client() -> None:
        tasks = []
        while not stop.is_set():
            tasks.append(asyncio.create_task(attempt()))
            await asyncio.sleep(0.02)
        await asyncio.gather(*tasks)

    async with new_connections() as session:
        metrics = await fetch(session, "GET", hub.url + "/metrics")
    before = total(metrics.body.decode(), "hub_http_requests_total")
    running = asyncio.create_task(client())
    await asyncio.sleep(0.5)
    os.kill(pids[1], signal.SIGKILL)
    now = await replaced(hub.url, 1, pids[1])
    await asyncio.sleep(0.5)
    stop.set()
    await running
    assert counts["refused"] == 0, counts
    assert counts["answered"] >= 20, counts
    async with new_connections() as session:
        metrics = await fetch(session, "GET", hub.url + "/metrics")
    # what the killed worker counted is still counted
    assert total(metrics.body.decode(), "hub_http_requests_total") >= before + counts["answered"]
    assert now[0] == pids[0] and now[1] != pids[1]
    assert len(listening_lines(hub.process)) == 2  # a restart announces nothing


async def test_a_replaced_worker_publishes_and_hears_through_the_bus(hub: Shared) -> None:
    """After the kills above, each worker hears what the other published, in one order."""
    await _display_online(hub)
    token = owner_token(hub)
    async with new_connections() as session:
        subscribers = [await _subscribed_on(session, hub, index, token) for index in (0, 1)]
        try:
            await _until_subscribed(session, hub, 2)
            sent, served = await _change_status(session, hub, each=2)
            for ws in subscribers:
                assert await _heard(ws, len(sent)) == sent, served
        finally:
            for ws in subscribers:
                await ws.close()


# -- 3b. ... and outlives the coordination database being busy ----------------------------------
async def test_periodic_jobs_outlive_a_busy_coordination_database(hub: Shared) -> None:
    """A write lock held past the busy timeout (a process frozen mid-write) fails the
    workers' lease and statistics writes for a while; the jobs go on once it is released."""
    url = hub.process.env.get("HUB_DATABASE_URL", "")
    database = Engine(hub.process.data_dir, url).open("_workers")

    def hold() -> None:
        with database.write():
            time.sleep(BUSY_TIMEOUT_MS / 1000 + 1)

    try:
        await asyncio.to_thread(hold)
    finally:
        database.close()
    released = time.time()
    await asyncio.sleep(6 * TICK_INTERVAL)
    after = [t for t, _ in ticks(hub.plugins) if t > released]
    assert len(after) >= 3, after  # it runs again, one worker at a time
    assert min(gaps(after)) >= 0.9 * TICK_INTERVAL, gaps(after)


# -- 6. a foreign hub on the same ports fails at start ------------------------------------------
def test_a_foreign_hub_on_the_same_port_fails_with_one_line(hub: Shared, tmp_path: Path) -> None:
    env = {**os.environ, "HUB_ADMIN_TOKEN": ADMIN_TOKEN, "HUB_PLUGINS": "unspot"}
    taken = {"http": hub.process.http, "grpc": hub.process.grpc}
    runs = {}
    for kind, address in taken.items():
        other = "grpc" if kind == "http" else "http"
        for workers in ("1", "2"):
            args = [f"--{kind}", address, f"--{other}", "127.0.0.1:0", "--workers", workers]
            runs[kind, workers] = serve_apart(tmp_path / f"{kind}-{workers}", env, *args)
    for (kind, workers), proc in runs.items():
        out, err = proc.communicate(timeout=90)
        lines = err.strip().splitlines()
        assert proc.returncode == 1 and len(lines) == 1, (kind, workers, out, err)
        assert f"{kind} {taken[kind]}" in lines[0] and "in use" in lines[0], lines
        assert "listening" not in out, out
    pids = asyncio.run(worker_pids(hub.url))  # still the hub's own two workers, nobody else's

    async def answered() -> set[int]:
        async with new_connections() as session:
            answers = [await fetch(session, "GET", hub.url + "/healthz") for _ in range(20)]
        return {json.loads(a.body)["pid"] for a in answers}

    assert asyncio.run(answered()) == set(pids.values())


# -- 8. SIGTERM drains every worker ---------------------------------------------------------
def _gone(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] == "Z"
    except FileNotFoundError:
        return True


async def test_sigterm_drains_every_worker_and_exits_0(hub: Shared) -> None:
    proc = hub.process.proc
    assert proc is not None
    pids = await worker_pids(hub.url)
    http_port = port_of(hub.process.http)
    async with new_connections() as session:
        slow: list[asyncio.Task[Answer]] = []
        while len(slow) < 40:  # until each worker holds a slow request
            slow.append(
                asyncio.create_task(fetch(session, "GET", hub.url + "/ticker/slow?seconds=2"))
            )
            await asyncio.sleep(0.1)
            if all(accepted(pids, http_port).values()):
                break
        proc.send_signal(signal.SIGTERM)
        stopped = time.monotonic()
        answers = await asyncio.gather(*slow)
        code = await asyncio.to_thread(proc.wait, 30)
        took = time.monotonic() - stopped
    assert code == 0
    assert took <= SHUTDOWN_TIMEOUT + SUPERVISOR_MARGIN + 2, took
    assert [a.status for a in answers] == [200] * len(answers)  # drained, not cut
    assert {a.worker for a in answers} == {0, 1}
    deadline = time.monotonic() + 5
    while not all(_gone(pid) for pid in pids.values()):
        assert time.monotonic() < deadline, "a worker outlived the hub"
        await asyncio.sleep(0.05)


# -- 10. ... and a new start is a new instance ----------------------------------------------
async def test_a_restart_changes_the_instance_id(hub: Shared, webim_auth: str) -> None:
    hub.process.http = hub.process.grpc = ""
    hub.process.listeners.clear()
    hub.process.start(timeout=120)
    async with new_connections() as session:
        ids = await until_workers(
            session,
            "GET",
            hub.url + "/webim/l/i/instance-id",
            {0, 1},
            headers={"Authorization": webim_auth},
        )
    assert len({a.body for a in ids}) == 1
    assert ids[0].body.decode() != hub.seen["instance"]


# -- 8b. workers do not outlive a supervisor killed outright ---------------------------------
async def test_workers_stop_when_their_supervisor_is_killed(tmp_path: Path) -> None:
    """SIGKILL leaves the supervisor no chance to stop its workers: they notice it is gone,
    drain and exit, and free the ports for the next start."""
    env = {"HUB_PLUGINS": "", "HUB_SHUTDOWN_TIMEOUT": "2"}
    hub = HubProcess(tmp_path / "data", env=env, args=["--workers", "2"]).start(timeout=120)
    pids = await worker_pids(hub.url)
    try:
        hub.stop(signal.SIGKILL)
        deadline = time.monotonic() + 2 + SUPERVISOR_MARGIN + 5
        while not all(_gone(pid) for pid in pids.values()):
            assert time.monotonic() < deadline, "the workers outlived their supervisor"
            await asyncio.sleep(0.05)
    finally:
        for pid in pids.values():
            if not _gone(pid):
                os.kill(pid, signal.SIGKILL)
    socket.create_server(("127.0.0.1", port_of(hub.http))).close()  # the port is free again


# -- 9. a crash loop stops the hub with one line -----------------------------------------------
def test_a_crash_loop_stops_the_hub_with_one_line(tmp_path: Path) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "crasher.py").write_text(CRASHER)
    env = {
        **os.environ,
        "HUB_ADMIN_TOKEN": ADMIN_TOKEN,
        "HUB_LOG_LEVEL": "WARNING",
        "HUB_PLUGINS": "crasher",
        "HUB_PLUGINS_DIR": str(plugins),
        "HUB_WORKERS": "2",  # as the environment says, not the command line
    }
    args = ["--http", "127.0.0.1:0", "--grpc", "127.0.0.1:0"]
    proc = serve_apart(tmp_path / "data", env, *args)
    try:
        read_listening(proc)
        (plugins / "crash-now").touch()
        started = time.monotonic()
        _, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    assert proc.returncode == 1, err
    assert time.monotonic() - started < 60
    assert "Traceback" not in err, err
    *restarts, last = err.strip().splitlines()
    stopped = re.fullmatch(
        r"hub: workers exited (\d+) times within 60s \(worker \d last, exit code 3\): stopping",
        last,
    )
    assert stopped, err  # one line saying why; before it, a warning for each restart only
    assert len(restarts) == int(stopped[1]) - 1, err
    for line in restarts:
        assert re.search(r" WARNING .* worker \d exited \(code 3\): starting another$", line), err


@pytest.fixture
def refuser(tmp_path: Path) -> Iterator[tuple[HubProcess, Path]]:
    """Two workers of a hub whose one plugin can be told not to start (:data:`REFUSER`)."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "refuser.py").write_text(REFUSER)
    env = {"HUB_PLUGINS": "refuser", "HUB_PLUGINS_DIR": str(plugins)}
    process = HubProcess(tmp_path / "data", env=env, args=["--workers", "2"]).start(timeout=120)
    yield process, plugins
    process.stop(signal.SIGKILL)


async def test_a_replacement_that_cannot_start_is_tried_again_while_the_other_serves(
    refuser: tuple[HubProcess, Path],
) -> None:
    """Before, one failed start of a replacement (its database down, say) stopped the whole
    hub, although the other worker was serving."""
    process, plugins = refuser
    pids = await worker_pids(process.url)
    (plugins / "refuse-start").touch()
    os.kill(pids[1], signal.SIGKILL)
    await asyncio.sleep(4)  # the first start and two tries again have failed by now
    assert process.proc is not None and process.proc.poll() is None, "".join(process.output)
    async with new_connections() as session:
        for _ in range(5):
            answer = await fetch(session, "GET", process.url + "/healthz")
            assert (answer.status, answer.worker) == (200, 0)
    (plugins / "refuse-start").unlink()
    now = await replaced(process.url, 1, pids[1])
    assert now[0] == pids[0]
    assert process.stop() == 0
    output = "".join(process.output)
    assert "Traceback" not in output, output
    for delay in ("1s", "2s"):
        tried = rf"WARNING .* worker 1: .*refuser: told not to start: trying again in {delay}\n"
        assert re.search(tried, output), output


def metrics_directory(pid: int) -> Path:
    """The ``PROMETHEUS_MULTIPROC_DIR`` the supervisor gave the worker ``pid``."""
    environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
    found = [
        v for k, _, v in (e.partition(b"=") for e in environ) if k == b"PROMETHEUS_MULTIPROC_DIR"
    ]
    return Path(found[0].decode())


async def test_a_replacement_that_cannot_start_leaves_no_live_mark_behind(
    refuser: tuple[HubProcess, Path],
) -> None:
    """Each failed start left the worker's live mark (``gauge_liveall_<pid>.db``) in the
    metrics directory, never marked dead: one more file for every scrape to merge at each try
    (every 30 s while a database stays down), and a foreign process that later took the pid
    reported as that worker."""
    process, plugins = refuser
    pids = await worker_pids(process.url)
    directory = metrics_directory(pids[0])
    (plugins / "refuse-start").touch()
    os.kill(pids[1], signal.SIGKILL)
    deadline = time.monotonic() + 120
    while not any("trying again in 2s" in line for line in process.output):
        assert time.monotonic() < deadline, "".join(process.output)
        await asyncio.sleep(0.1)
    marks = sorted(path.name for path in directory.glob("gauge_liveall_*.db"))
    assert marks == [f"gauge_liveall_{pids[0]}.db"], marks


async def test_sigterm_while_a_replacement_starts_stops_the_hub_at_once(
    refuser: tuple[HubProcess, Path],
) -> None:
    """Before, the supervisor waited for the starting worker, up to two minutes."""
    process, plugins = refuser
    pids = await worker_pids(process.url)
    (plugins / "hang-start").touch()
    os.kill(pids[1], signal.SIGKILL)
    await asyncio.sleep(2)  # the replacement is inside its plugin's start
    assert process.proc is not None
    started = time.monotonic()
    process.proc.send_signal(signal.SIGTERM)
    code = await asyncio.to_thread(process.proc.wait, 30)
    assert code == 0, "".join(process.output)
    assert time.monotonic() - started < 20  # the drain's deadline, not the start's 120 s


async def test_one_worker_polls_the_upstream_for_the_readers_of_both(tmp_path: Path) -> None:
    """Upstream mode under two workers: every worker tells the shared cache what its readers
    asked for, one worker polls (under a lease), and the vendor sees one budget."""
    from hub.testing.inprocess import running_hub

    vendor_env = {"HUB_PLUGINS": "unspot", "HUB_UNSPOT_RATE_WINDOW": "0.05"}
    async with running_hub(tmp_path / "vendor", vendor_env) as vendor:
        token = vendor.creds("unspot", role="owner")["token"]
        env = {
            "HUB_PLUGINS": "unspot",
            "HUB_UNSPOT_MODE": "upstream",
            "HUB_UNSPOT_UPSTREAM_URL": vendor.rest_url("unspot"),
            "HUB_UNSPOT_UPSTREAM_TOKEN": token,
            "HUB_UNSPOT_UPSTREAM_BUDGET": "1/1s",
            "HUB_UNSPOT_UPSTREAM_POLL": "0.2",
        }
        front = HubProcess(tmp_path / "front", env, args=["--workers", "2"]).start(timeout=90)
        try:
            query = {"query": "{ unspot { monitoring { displays { id } } } }"}
            served: set[str] = set()
            deadline = time.monotonic() + 4
            while time.monotonic() < deadline:
                async with new_connections() as session:  # noqa: SIM117
                    async with session.post(
                        front.url + "/graphql",
                        json=query,
                        headers={"Authorization": f"Bearer {ADMIN_TOKEN}"},
                    ) as response:
                        assert response.status == 200
                        served.add(response.headers["Hub-Worker"])
                await asyncio.sleep(0.05)
            assert served == {"0", "1"}
            url = front.env.get("HUB_DATABASE_URL", "")
            with contextlib.closing(Engine(tmp_path / "front", url).open("_workers")) as db:
                rows = dict(
                    db.execute(
                        "SELECT key, count(DISTINCT worker) FROM timer_stats WHERE runs > 0"
                        " GROUP BY key"
                    ).fetchall()
                )
                holders = db.execute(
                    "SELECT count(*) FROM leases WHERE name = 'timer:unspot.upstream.poll'"
                ).fetchone()[0]
            assert rows["unspot.upstream.poll"] == 1, rows  # one poller for the hub
            assert rows["unspot.upstream.reads"] == 2, rows  # every worker's readers counted
            assert holders == 1
        finally:
            front.stop()

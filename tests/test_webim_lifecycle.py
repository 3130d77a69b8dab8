"""webim on a listener of its own (the documented paths at its root, as a Zabbix host sees
them), log levels observed in the hub's real output, a restart, and a database broken under it.
The tests run in order: the last one breaks this hub's database."""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import grpc
import pytest
from hub_webim.v1 import webim_pb2

from hub.storage import Engine
from hub.storage.postgres import PostgresDatabase
from tests.hubproc import HubProcess
from tests.webim_client import (
    ADMIN,
    gql_error,
    graphql,
    issue,
    parse_var_dump,
    rest,
    rpc_error,
    service_login,
)

CONFIG = '[plugins.webim]\nlisten = "127.0.0.1:0"\nstorager_interval = 0.2\n'


@pytest.fixture(scope="module")
def root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = Path(tmp_path_factory.mktemp("webim-own"))
    (root / "hub.toml").write_text(CONFIG)
    return root


@pytest.fixture(scope="module")
def hub(root: Path) -> Iterator[HubProcess]:
    process = HubProcess(root / "data", env={"HUB_CONFIG": str(root / "hub.toml")}).start()
    yield process
    process.stop()


@pytest.fixture(scope="module")
def auth(hub: HubProcess) -> str:
    return service_login(hub)


def own(hub: HubProcess, path: str) -> str:
    return f"http://{hub.listeners['webim']}{path}"


def port(address: str) -> str:
    return address.rsplit(":", 1)[1]


async def wait_for_line(hub: HubProcess, pattern: str, start: int = 0, timeout: float = 10) -> int:
    """The index in the hub's output of the first line from ``start`` matching ``pattern``."""
    regex = re.compile(pattern)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for i, line in enumerate(hub.output[start:], start):
            if regex.search(line):
                return i
        await asyncio.sleep(0.05)
    raise AssertionError(f"no line matching {pattern!r} in:\n" + "".join(hub.output[start:]))


async def test_served_at_the_root_of_its_own_listener(hub: HubProcess, auth: str) -> None:
    assert set(hub.listeners) == {"webim"} and hub.listeners["webim"] != hub.http
    status, body, _ = await rest(own(hub, "/l/a/monitor?="), auth)
    assert status == 200
    assert body["mainInfo"]["port"] == int(port(hub.listeners["webim"]))
    status, ports, _ = await rest(own(hub, "/webim/service/monitor/get-tornado-ports.php"), auth)
    assert ports == [port(hub.listeners["webim"])]  # only where webim answers
    status, text, _ = await rest(own(hub, "/webim/service/info.php"), auth)
    info = parse_var_dump(text)
    assert info["tornado port"] == port(hub.listeners["webim"])
    assert info["agent backend port"] == port(hub.http)
    status, ident, _ = await rest(own(hub, "/l/i/instance-id"), auth)
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", ident)
    for path in (
        "/l/a/monitor/connect-to-db",
        "/l/a/monitor/timer-stats",
        "/metrics",
        "/l/a/object-stats",
        "/webim/service/monitor/get-all-env-list.php",
    ):
        assert (await rest(own(hub, path), auth))[0] == 200, path
    # no prefix on its own listener, and the main listener no longer serves it
    status, body, _ = await rest(own(hub, "/webim/l/a/monitor"), auth)
    assert (status, body) == (404, {"result": "error", "e": "Not found"})
    assert (await rest(f"{hub.url}/webim/l/a/monitor", auth))[0] == 404
    status, _, headers = await rest(own(hub, "/l/a/monitor"))
    assert status == 401 and headers["WWW-Authenticate"] == 'Basic realm="webim"'


async def test_set_log_level_changes_the_hubs_logging_at_once(hub: HubProcess, auth: str) -> None:
    debug = r"DEBUG .*hub_webim: storager: write ok"
    start = len(hub.output)
    status, body, _ = await rest(
        own(hub, "/l/a/monitor/set-log-level?name=webim&level=DEBUG"), auth
    )
    assert (status, body["loggers"]) == (200, ["hub_webim", "hub.webim"])
    await wait_for_line(hub, debug, start)  # the storager's debug lines now reach stderr
    status, _, _ = await rest(own(hub, "/l/a/monitor/set-log-level?name=webim&level=INFO"), auth)
    changed = r"set-log-level: webim \(hub_webim, hub\.webim\) -> INFO"
    marker = await wait_for_line(hub, changed, start)
    runs = await graphql(hub, "{ webim { timerStats { lastMin { timer count } } } }")
    await asyncio.sleep(1.0)  # several more storager runs at 0.2 s
    assert not [line for line in hub.output[marker + 1 :] if re.search(debug, line)]
    assert runs["data"]["webim"]["timerStats"]["lastMin"]

    # name=auth is the hub.auth logger, which hears every service login
    start = len(hub.output)
    status, _, _ = await rest(own(hub, "/l/a/monitor/set-log-level?name=auth&level=DEBUG"), auth)
    await rest(own(hub, "/l/a/monitor"), auth)
    await wait_for_line(hub, r"DEBUG .*hub\.auth: webim: service request by zabbix", start)
    await rest(own(hub, "/l/a/monitor/set-log-level?name=auth&level=WARN"), auth)


async def test_a_restart_changes_the_instance_id(hub: HubProcess, auth: str) -> None:
    before = (await rest(own(hub, "/l/i/instance-id"), auth))[1]
    started = (await rest(own(hub, "/l/a/monitor"), auth))[1]["mainInfo"]["startTs"]
    hub.stop()
    hub.listeners.clear()
    hub.http = hub.grpc = ""
    hub.start()
    status, after, _ = await rest(own(hub, "/l/i/instance-id"), auth)  # the login survived
    assert status == 200 and re.fullmatch(r"[0-9a-f]{32}", after) and after != before
    restarted = (await rest(own(hub, "/l/a/monitor"), auth))[1]["mainInfo"]["startTs"]
    assert restarted > started


def break_database(hub: HubProcess, data: Path) -> None:
    """webim's state made unusable under the hub: garbage over its SQLite file, or its
    PostgreSQL schema dropped."""
    url = hub.env.get("HUB_DATABASE_URL", "")
    if url:
        with closing(Engine(data, url).open("webim")) as database:
            assert isinstance(database, PostgresDatabase)
            database.execute(f'DROP SCHEMA "{database.schema}" CASCADE')
        return
    with open(data / "webim.db", "r+b") as fh:  # garbage over the file in place: root ignores chmod
        size = fh.seek(0, 2)
        fh.seek(0)
        fh.write(b"this is not a database " * (max(size, 4096) // 23 + 1))
    for name in ("webim.db-wal", "webim.db-shm"):
        (data / name).unlink(missing_ok=True)


async def test_a_broken_database_is_reported(hub: HubProcess, auth: str, root: Path) -> None:
    assert (await rest(own(hub, "/l/a/monitor/connect-to-db"), auth))[1] == {"result": "ok"}
    token = (await issue(hub, kind="operator"))["auth_token"]
    break_database(hub, root / "data")
    status, body, _ = await rest(own(hub, "/l/a/monitor/connect-to-db"), auth)
    assert (status, body) == (500, {"result": "error", "e": "Failed to connect to database meta"})
    status, body, _ = await rest(
        own(hub, "/l/o/pingservice?pinger-id=1&ts=1"), cookies={"WEBIM_AUTH_TOKEN": token}
    )
    assert status == 503 and body["result"] == "error"
    error = gql_error(await graphql(hub, "{ webim { connectToDb { result } } }"))
    assert (error["code"], error["status"], error["reason"]) == ("INTERNAL", 500, "database")
    code, trailers = await rpc_error(hub, "ConnectToDb", webim_pb2.Empty(), ADMIN)
    assert code == grpc.StatusCode.INTERNAL and trailers["hub-status"] == "500"
    status, metrics, _ = await rest(own(hub, "/metrics"), auth)
    assert status == 200 and "\nwebim_database_up 0.0\n" in metrics
    status, ready, _ = await rest(f"{hub.url}/readyz")
    assert status == 503 and ready["plugins"]["webim"] == "down"
    # the storager's writes now fail: timer-stats lists the failed runs, monitor says so
    deadline = time.monotonic() + 10
    failed: list = []
    while not failed and time.monotonic() < deadline:
        stats = (await rest(own(hub, "/l/a/monitor/timer-stats"), auth))[1]
        failed = [f for f in stats["failed"] if f["timer_name"] == "webim.storager"]
        await asyncio.sleep(0.1)
    assert failed, stats
    assert set(failed[0]) == {"timer_name", "func_name", "execution_time", "ts"}
    assert failed[0]["func_name"] == "hub_webim.service.WebimService.storager_run"
    assert isinstance(failed[0]["execution_time"], float) and failed[0]["ts"] > time.time() - 60
    status, body, _ = await rest(own(hub, "/l/a/monitor"), auth)
    # whether the hub's long-lived connection still reads its cached pages is up to SQLite:
    # either it fails too, or monitor answers and says writes fail
    if status == 500:
        assert body == {"result": "error", "e": "Failed to connect to database meta"}
    else:
        assert (status, body["mainInfo"]["storingEnabled"]) == (200, False)

"""The ``system`` category probes the running deployment for real: a RESP PING to a Redis
server the test runs on loopback, the hub's background queues (a third-party plugin's queue
whose depth the test sets), and the database and data directory broken under a running hub."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from tests.hubproc import HubProcess
from tests.unspot_helpers import (
    ADMIN,
    RespServer,
    backlog_plugin,
    body,
    eventually,
    get,
    system,
    unspot_hub,
)

PASSWORD = "s3cret"


@pytest.fixture(scope="module")
def redis() -> Iterator[RespServer]:
    server = RespServer(password=PASSWORD)
    yield server
    server.stop()


@pytest.fixture(scope="module")
def plugins_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("plugins")
    backlog_plugin(directory)
    return directory


def probed_hub(data_dir: Path, plugins_dir: Path, **settings: str) -> HubProcess:
    hub = unspot_hub(data_dir, system_cache="0.2", rate_window="0.05", **settings)
    hub.env.update(HUB_PLUGINS="unspot,backlog", HUB_PLUGINS_DIR=str(plugins_dir))
    return hub.start()


@pytest.fixture(scope="module")
def hub(
    tmp_path_factory: pytest.TempPathFactory, redis: RespServer, plugins_dir: Path
) -> Iterator[HubProcess]:
    url = f"redis://:{PASSWORD}@127.0.0.1:{redis.port}/0"
    hub = probed_hub(tmp_path_factory.mktemp("unspot-system"), plugins_dir, redis_url=url)
    yield hub
    hub.stop()


async def status_is(hub: HubProcess, **expected: str) -> dict[str, Any] | None:
    current = await system(hub)
    return current if all(current[k] == v for k, v in expected.items()) else None


async def test_redis_is_pinged_over_resp(hub: HubProcess, redis: RespServer) -> None:
    assert await eventually(lambda: status_is(hub, redis="online"))
    assert ["AUTH", PASSWORD] in redis.commands and ["PING"] in redis.commands


async def test_redis_answering_an_error_is_offline(hub: HubProcess, redis: RespServer) -> None:
    redis.refuse_ping = True
    try:
        assert await eventually(lambda: status_is(hub, redis="offline"))
    finally:
        redis.refuse_ping = False
    assert await eventually(lambda: status_is(hub, redis="online"))


async def test_queue_lists_the_hubs_queues_with_their_pending_counts(
    hub: HubProcess, plugins_dir: Path
) -> None:
    (plugins_dir / "backlog-depth").write_text("7")
    try:
        current = await eventually(lambda: status_is(hub))
        assert current["queue"] == [{"name": "backlog.pending", "messages": 7}]
        async with aiohttp.ClientSession() as session, session.get(hub.url + "/metrics") as resp:
            metrics = await resp.text()
        assert 'hub_queue_depth{queue="backlog.pending"} 7.0' in metrics
        _, _, raw = await get(hub, "/system", ADMIN)
        assert body(raw)["body"]["system"]["queue"] == current["queue"]
    finally:
        (plugins_dir / "backlog-depth").write_text("0")


async def test_redis_on_a_closed_port_is_offline(hub: HubProcess, redis: RespServer) -> None:
    """Last in the module: it stops the server."""
    redis.stop()
    assert await eventually(lambda: status_is(hub, redis="offline"))


# -- breaking the deployment under a running hub (tests run as root: chmod stops nothing) ---
@pytest.fixture
def fragile(tmp_path: Path, plugins_dir: Path) -> Iterator[HubProcess]:
    hub = probed_hub(tmp_path / "data", plugins_dir)
    yield hub
    hub.stop()


async def readyz(hub: HubProcess) -> int:
    async with aiohttp.ClientSession() as session, session.get(hub.url + "/readyz") as resp:
        return resp.status


async def test_a_corrupt_or_missing_database_is_offline(fragile: HubProcess) -> None:
    if fragile.env.get("HUB_DATABASE_URL"):
        pytest.skip("breaks unspot.db, a SQLite file: test_pg_restart takes PostgreSQL away")
    db = fragile.data_dir / "unspot.db"
    saved = fragile.data_dir / "unspot.db.saved"
    assert await eventually(lambda: status_is(fragile, database="online", filesystem="online"))
    assert await readyz(fragile) == 200

    os.rename(db, saved)
    db.write_bytes(b"this is not a SQLite database" * 100)
    assert await eventually(lambda: status_is(fragile, database="offline", filesystem="online"))
    _, _, raw = await get(fragile, "/system", ADMIN)
    assert body(raw)["body"]["system"]["database"] == "offline"
    assert await readyz(fragile) == 503

    db.unlink()  # removed altogether: the probe must not quietly create an empty one
    assert await eventually(lambda: status_is(fragile, database="offline"))
    assert not db.exists()

    os.rename(saved, db)
    assert await eventually(lambda: status_is(fragile, database="online"))
    assert await readyz(fragile) == 200


async def test_a_data_directory_that_is_gone_is_offline(fragile: HubProcess) -> None:
    data_dir = fragile.data_dir
    moved = data_dir.with_name("moved")
    # the database lives in the data directory on SQLite, in PostgreSQL otherwise
    database = "online" if fragile.env.get("HUB_DATABASE_URL") else "offline"
    assert await eventually(lambda: status_is(fragile, filesystem="online"))
    os.rename(data_dir, moved)
    data_dir.write_text("a file where the data directory was")
    try:
        assert await eventually(lambda: status_is(fragile, filesystem="offline", database=database))
    finally:
        data_dir.unlink()
        os.rename(moved, data_dir)
    assert await eventually(lambda: status_is(fragile, filesystem="online", database="online"))
    assert not list(data_dir.glob(".unspot-probe-*"))  # the probe cleans up after itself
    shutil.rmtree(moved, ignore_errors=True)


def test_the_filesystem_probe_never_removes_another_hubs(tmp_path: Path) -> None:
    """Hubs in containers of their own, each process 1, may share the data directory: a probe
    named by the process id would be the other's, truncated and removed under it."""
    from hub_unspot.probes import filesystem_status

    others = [tmp_path / f".unspot-probe-{os.getpid()}", tmp_path / ".unspot-probe-1"]
    for other in others:
        other.write_bytes(b"another hub's probe, mid-write\n")
    assert filesystem_status(tmp_path) == "online"
    assert [o.read_bytes() for o in others] == [b"another hub's probe, mid-write\n"] * 2
    assert sorted(tmp_path.iterdir()) == sorted(others)  # its own is gone

"""Nothing holds a hub on PostgreSQL: every query runs on the event loop, so a statement that
runs long (a lock, a huge scan) is cancelled after ``database_statement_timeout`` and answered
503 in the plugin's shape, and a network path to PostgreSQL that dies silently is given up
within seconds (TCP keepalives and ``tcp_user_timeout``), not the kernel's 15 minutes.

The PostgreSQL tests run when the suite does (``HUB_TEST_POSTGRES``); the setting's checks run
on both engines."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from hub.config import ConfigError, Settings, load_settings
from hub.events import EventBus
from hub.pgbus import PostgresLink, m001_bus_events
from hub.storage import Database, DatabaseUnavailable
from hub.storage.postgres import (
    BUSY_TIMEOUT_MS,
    PostgresDatabase,
    PostgresServer,
    split_url,
)
from hub.testing import ADMIN_TOKEN, HubProcess
from tests.postgres_fixtures import postgres_url_fixture

TIMEOUT = 0.5  # seconds: the statement timeout of the Database API tests
HUNG = 40  # seconds: a query on a dead network still blocked then is not ended at all
HUB_TIMEOUT = 1  # seconds: the hub's, well below lock_timeout (5 s), so it is what fires
UNAVAILABLE = {"code": "UPSTREAM_UNAVAILABLE", "status": 503, "reason": "database_unavailable"}


url = postgres_url_fixture()


@contextlib.contextmanager
def opened(url: str, statement_timeout: float) -> Iterator[PostgresDatabase]:
    db = PostgresDatabase(PostgresServer(url, statement_timeout), "timeouts")
    try:
        yield db
    finally:
        db.close()


def _backend(db: Database) -> int:
    return int(db.execute("SELECT pg_backend_pid()").fetchone()[0])


def m001_marks(db: Database) -> None:
    db.execute("CREATE TABLE marks (name TEXT NOT NULL)")


# -- the setting ----------------------------------------------------------------------------
def test_by_default_a_writer_waiting_for_another_is_busy_before_it_is_cancelled() -> None:
    assert Settings().database_statement_timeout * 1000 > BUSY_TIMEOUT_MS


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("-1", "database_statement_timeout: must be 0 (no limit) or seconds up to 2147483, got -1"),
        ("3e6", "database_statement_timeout: must be 0 (no limit) or seconds up to 2147483, got"),
        ("soon", "database_statement_timeout: expected float, got 'soon'"),
        ("inf", "database_statement_timeout: expected a finite number, got 'inf'"),
    ],
)
def test_a_bad_statement_timeout_is_named(value: str, message: str) -> None:
    with pytest.raises(ConfigError) as raised:
        load_settings(env={"HUB_DATABASE_STATEMENT_TIMEOUT": value})
    assert str(raised.value).startswith(message)


def test_a_statement_timeout_is_read_from_the_environment() -> None:
    assert (
        load_settings(env={"HUB_DATABASE_STATEMENT_TIMEOUT": "0"}).database_statement_timeout == 0
    )
    settings = load_settings(env={"HUB_DATABASE_STATEMENT_TIMEOUT": "2.5"})
    assert settings.database_statement_timeout == 2.5


def test_a_negative_statement_timeout_stops_the_start_in_one_line(tmp_path: Path) -> None:
    hub = HubProcess(tmp_path / "data", env={"HUB_DATABASE_STATEMENT_TIMEOUT": "-1"})
    try:
        with pytest.raises(RuntimeError, match="hub exited during start"):
            hub.start()
    finally:
        hub.stop()
    output = "".join(hub.output)
    assert "Traceback" not in output
    assert (
        "bad config: database_statement_timeout: must be 0 (no limit) or seconds up to"
        " 2147483, got -1" in output
    ), output


# -- the statement timeout, through the Database API -------------------------------------------
def test_the_timeout_reaches_every_data_connection(url: str) -> None:
    with opened(url, TIMEOUT) as db:
        assert db.execute("SHOW statement_timeout").fetchone()[0] == "500ms"
        assert db.execute("SHOW lock_timeout").fetchone()[0] == "5s"
    with opened(url, 0) as db:
        assert db.execute("SHOW statement_timeout").fetchone()[0] == "0"
        db.execute("SELECT pg_sleep(0.2)")
    with opened(url, 0.0001) as db:  # a positive setting never becomes "no limit"
        assert db.execute("SHOW statement_timeout").fetchone()[0] == "1ms"


def test_a_statement_past_the_timeout_is_a_503_and_one_line(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    with opened(url, TIMEOUT) as db:
        backend = _backend(db)
        started = time.monotonic()
        with caplog.at_level(logging.WARNING), pytest.raises(DatabaseUnavailable) as raised:
            db.execute("SELECT pg_sleep(5)")
        took = time.monotonic() - started
        assert TIMEOUT * 0.9 < took < TIMEOUT + 1.5, took
        error = raised.value
        assert (error.status, error.reason, error.retry_after) == (503, "database_unavailable", 1)
        assert error.message == "the database is unavailable"  # clients are not told more
        assert "canceling statement due to statement timeout" in str(error)
        lines = [r.getMessage() for r in caplog.records if r.name == "hub.storage"]
        assert len(lines) == 1, lines
        assert "statement timeout" in lines[0] and "database_statement_timeout 0.5 s" in lines[0]
        assert not any(r.exc_info for r in caplog.records)
        # not retried on a new connection: the same one answers at once
        assert _backend(db) == backend


def test_a_transaction_cut_by_the_timeout_is_rolled_back(url: str) -> None:
    with opened(url, TIMEOUT) as db:
        db.migrate("test", [m001_marks])
        with pytest.raises(DatabaseUnavailable), db.write() as tx:
            tx.execute("INSERT INTO marks (name) VALUES ('lost')")
            tx.execute("SELECT pg_sleep(5)")
        with db.write() as tx:  # the writer's lock was given back
            tx.execute("INSERT INTO marks (name) VALUES ('kept')")
        assert [r[0] for r in db.execute("SELECT name FROM marks").fetchall()] == ["kept"]


def test_migrations_are_not_cut_by_the_timeout(url: str) -> None:
    def m001_slow(db: Database) -> None:
        db.execute("SELECT pg_sleep(1)")  # an index built over a large table, say
        db.execute("CREATE TABLE slow (n INTEGER)")

    with opened(url, 0.3) as db:
        assert db.migrate("test", [m001_slow]) == ["m001_slow"]
        assert db.tables() == ["_hub_migrations", "slow"]
        assert db.execute("SHOW statement_timeout").fetchone()[0] == "300ms"


# -- a dead network path ------------------------------------------------------------------------
def _probes(conn: Any) -> tuple[int, int, int]:
    """The socket's keepalive and user timeout, as the kernel has them."""
    sock = socket.socket(fileno=os.dup(conn.fileno()))
    with sock:
        return (
            sock.getsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE),
            sock.getsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT),
        )


def test_data_and_bus_connections_give_up_a_silent_network(url: str) -> None:
    with opened(url, TIMEOUT) as db:
        _backend(db)
        data = db._conn
        assert data.info.get_parameters()["tcp_user_timeout"] == "10000"
        assert _probes(data) == (1, 5, 10_000)
        link = PostgresLink(db, {}, lambda topic, event: None)
        try:
            bus = link._connect()
            with bus:
                assert _probes(bus) == (1, 5, 10_000)
        finally:
            link.close()


async def test_a_publish_blocked_on_a_lock_gives_up_and_goes_once_it_is_free(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """The event bus publishes on the event loop too: a large event's row waits for a lock on
    ``bus_events`` no longer than the statement timeout, stays queued, and reaches the
    subscriber once the lock is gone."""
    with opened(url, TIMEOUT) as db:
        db.migrate("bus", [m001_bus_events])
        bus = EventBus(database=db)
        try:
            events = bus.subscribe("test.large")
            link = bus._link
            assert isinstance(link, PostgresLink)
            async with asyncio.timeout(10):
                while link._sender is None:  # connected off the event loop
                    await asyncio.sleep(0.01)
            large = os.urandom(6000).hex().encode()  # past a notification's payload: a row
            with psycopg.connect(split_url(url)[0], autocommit=True) as blocker:
                blocker.execute("BEGIN")
                blocker.execute(f"LOCK TABLE {link.table} IN ACCESS EXCLUSIVE MODE")  # type: ignore[arg-type]
                unlock = threading.Timer(8, blocker.execute, ("ROLLBACK",))  # a hang ends
                unlock.start()
                started = time.monotonic()
                bus.publish("test.large", large)
                took = time.monotonic() - started
                unlock.cancel()
                unlock.join()
                if blocker.info.transaction_status != psycopg.pq.TransactionStatus.IDLE:
                    blocker.execute("ROLLBACK")
            assert took < 3, took  # the statement timeout (0.5 s), not the lock's holder
            async with asyncio.timeout(10):
                assert await anext(events) == large
        finally:
            bus.close()
    refused = [r.getMessage() for r in caplog.records if "cannot publish" in r.getMessage()]
    assert len(refused) == 1 and "statement timeout" in refused[0], refused


def _unshare_works() -> bool:
    if not (shutil.which("unshare") and shutil.which("ip")):
        return False
    done = subprocess.run(["unshare", "-n", "true"], capture_output=True, check=False)
    return done.returncode == 0


def _namespace() -> str:
    return os.readlink("/proc/self/ns/net")


def _blocked_on_a_dead_network(outside: str) -> None:
    """Run by the test under ``unshare -n``, in a network namespace of its own (``outside``
    names the test's, which is never touched), so that its loopback can vanish without a
    reset: a PostgreSQL there, a query running on it, then the link gone. Prints how the query
    ended and when; a query still blocked after ``HUNG`` seconds is ended by stopping the
    server (so that nothing is left running), and the test fails on the time."""
    import threading

    from hub.testing.postgres import TemporaryPostgres

    if _namespace() == outside:
        sys.exit("refused: the loopback would go down outside a namespace of its own")
    subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
    with TemporaryPostgres() as server:
        db = PostgresDatabase(PostgresServer(server.url(), 0), "timeouts")  # no statement timeout
        _backend(db)

        def unblock() -> None:
            subprocess.run(["ip", "link", "set", "lo", "up"], check=True)
            server.stop()

        cut = threading.Timer(1, subprocess.run, (["ip", "link", "set", "lo", "down"],))
        hung = threading.Timer(HUNG, unblock)
        cut.start()
        hung.start()
        started = time.monotonic()
        try:
            db.execute("SELECT pg_sleep(600)")
            ended = "answered"
        except DatabaseUnavailable as exc:
            ended = f"unavailable: {exc}"
        hung.cancel()
        print(json.dumps({"ended": ended, "after": time.monotonic() - started - 1}), flush=True)
        db.close()
        subprocess.run(["ip", "link", "set", "lo", "up"], check=True)


@pytest.mark.skipif(not _unshare_works(), reason="needs unshare -n (a network namespace)")
def test_a_query_on_a_silently_dead_network_ends_within_seconds(url: str) -> None:
    done = subprocess.run(
        ["unshare", "-n", sys.executable, "-m", "tests.test_pg_timeouts", _namespace()],
        cwd=Path(__file__).parents[1],  # where the ``tests`` package is
        capture_output=True,
        text=True,
        timeout=HUNG + 60,
        check=False,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    outcome = json.loads(done.stdout.strip().splitlines()[-1])
    assert outcome["ended"].startswith("unavailable"), outcome
    # keepalive probes from 5 s, given up once tcp_user_timeout (10 s) passed, then one
    # reconnect on a network that is not there
    assert 5 < outcome["after"] < 20, outcome


# -- a hub request blocked on a lock -------------------------------------------------------------
@pytest.fixture
def hub(url: str, tmp_path: Path) -> Iterator[HubProcess]:
    process = HubProcess(tmp_path / "data", {"HUB_DATABASE_STATEMENT_TIMEOUT": str(HUB_TIMEOUT)})
    yield process.start()
    process.stop()


@contextlib.contextmanager
def locked(url: str, table: str) -> Iterator[None]:
    """``table`` (``schema.table``) locked ACCESS EXCLUSIVE by another connection meanwhile."""
    plain, _ = split_url(url)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute("BEGIN")
        conn.execute(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")  # type: ignore[arg-type]
        try:
            yield
        finally:
            conn.execute("ROLLBACK")


async def test_a_request_blocked_on_a_lock_is_answered_503_and_the_hub_goes_on(
    url: str, hub: HubProcess
) -> None:
    _, prefix = split_url(hub.env["HUB_DATABASE_URL"])
    points = "/era/rest/v1/service/integration_points"
    async with aiohttp.ClientSession(hub.url, timeout=aiohttp.ClientTimeout(total=30)) as session:
        mutation = {"query": 'mutation { hubAddCredential(plugin: "era") }'}
        admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
        async with session.post("/graphql", json=mutation, headers=admin) as r:
            token = (await r.json())["data"]["hubAddCredential"]["token"]
        era = {"Authorization": f"Bearer {token}"}
        with locked(hub.env["HUB_DATABASE_URL"], f'"{prefix}era".integration_points'):
            started = time.monotonic()
            async with session.post(
                points, json={"code": "a", "type": "webhook"}, headers=era
            ) as r:
                status, body, retry = r.status, await r.json(), r.headers.get("Retry-After")
            took = time.monotonic() - started
            assert (status, retry) == (503, "1"), body
            assert body == {"error_code": 1503, "error_message": body["error_message"]}
            # the statement timeout, not lock_timeout (5 s) nor a hang, answered it
            assert HUB_TIMEOUT * 0.9 < took < BUSY_TIMEOUT_MS / 1000, took
            read = {"query": "{ era { integrationPoints(first: 1) { totalCount } } }"}
            async with session.post("/graphql", json=read, headers=era) as r:
                errors = (await r.json())["errors"]
            assert [e["extensions"] for e in errors] == [
                {**UNAVAILABLE, "plugin": "era", "retryAfter": 1}
            ]
            async with session.get("/healthz") as r:  # the hub answers meanwhile
                assert r.status == 200
        async with session.post(points, json={"code": "a", "type": "webhook"}, headers=era) as r:
            assert r.status == 200, await r.text()
    output = "".join(hub.output)
    assert "Traceback" not in output and "unhandled error" not in output, output
    cancelled = [
        line for line in hub.output if "canceling statement due to statement timeout" in line
    ]
    assert len(cancelled) == 2, output  # one line per request cut
    assert all("database_statement_timeout 1 s" in line for line in cancelled), cancelled


if __name__ == "__main__":
    _blocked_on_a_dead_network(sys.argv[1] if len(sys.argv) > 1 else _namespace())

"""Adversarial checks of the scale machinery (workers, the event bus, leases, storage across
processes and hubs), each a defect found and fixed: real hubs in subprocesses, a real
PostgreSQL (``HUB_TEST_POSTGRES``; the PostgreSQL ones are skipped on SQLite)."""

from __future__ import annotations

import asyncio
import logging
import os
import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from hub.bus import MAX_FRAME, TOPIC_LIMIT, Broker
from hub.events import EventBus
from hub.pgbus import m001_bus_events
from hub.storage import Database, Engine, IntegrityError
from hub.storage.postgres import PostgresDatabase, PostgresServer, split_url
from hub.testing import ADMIN_TOKEN, HubProcess
from hub.testing.postgres import run_sql
from tests.postgres_fixtures import postgres_url_fixture

QUIET = {"HUB_MONITOROZAS_INTERVAL": "3600", "HUB_MONITOROZAS_BLACKLIST_INTERVAL": "3600"}

SLOW_PLUGIN = """
import os

from hub.hookspecs import hookimpl


def m001_slow(db):
    db.execute("SELECT pg_sleep(7)")  # past the 5 s lock timeout: an index over a large table
    db.execute("CREATE TABLE runs (pid INTEGER NOT NULL)")
    db.execute("INSERT INTO runs (pid) VALUES (?)", (os.getpid(),))


@hookimpl
def register_migrations(register):
    register(m001_slow)
"""


url = postgres_url_fixture()


def test_a_hub_starting_while_another_runs_a_slow_migration_waits_for_it(
    url: str, tmp_path: Path
) -> None:
    """Hubs take turns on the migration lock; one that waits longer than the lock timeout
    (5 s) for another's slow migration starts once it ends, rather than failing as busy."""
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "slow.py").write_text(SLOW_PLUGIN)
    env = {**QUIET, "HUB_DATABASE_URL": url, "HUB_PLUGINS_DIR": str(plugins)}
    first, second = (HubProcess(tmp_path / f"hub-{i}", env) for i in range(2))
    failures: list[str] = []

    def start(hub: HubProcess) -> None:
        try:
            hub.start(timeout=90)
        except RuntimeError as error:
            failures.append(str(error))

    starter = threading.Thread(target=start, args=(first,))
    try:
        starter.start()
        server, prefix = split_url(url)
        waited = 0
        while not run_sql(  # the first hub is inside the slow migration
            server,
            "SELECT 1 FROM pg_stat_activity WHERE query LIKE 'SELECT pg_sleep(7)%'"
            " AND state = 'active'",
        ):
            threading.Event().wait(0.1)
            waited += 1
            assert waited < 600, "the first hub never reached its migration"
        start(second)
        starter.join()
        assert failures == []
        assert run_sql(server, f'SELECT count(*) FROM "{prefix}slow".runs') == [(1,)]
    finally:
        first.stop()
        second.stop()


# -- the event bus: a topic or an event past what a link carries ------------------------------
WAIT = 10.0


async def take(stream: AsyncIterator[Any]) -> Any:
    async with asyncio.timeout(WAIT):
        return await anext(stream)


async def nothing(stream: AsyncIterator[Any]) -> None:
    with pytest.raises(TimeoutError):
        async with asyncio.timeout(0.5):
            await anext(stream)


async def until(condition: Callable[[], bool]) -> None:
    async with asyncio.timeout(WAIT):
        while not condition():
            await asyncio.sleep(0.01)


@pytest.fixture
async def workers(tmp_path: Path) -> AsyncIterator[tuple[EventBus, EventBus]]:
    """Two workers' buses on a real broker."""
    broker = Broker(tmp_path / "bus.sock")
    await broker.start()
    pair = (EventBus(broker.path), EventBus(broker.path))
    yield pair
    for bus in pair:
        bus.close()
    await broker.stop()


async def test_a_topic_too_long_for_a_broker_frame_stays_in_its_worker(
    workers: tuple[EventBus, EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    """A plugin's topic past 65,535 bytes (a frame's 2-byte length) neither fails the
    subscribe or publish (an OverflowError, a 500) nor stops the worker's other events."""
    publisher, other = workers
    long_topic = "t" * (TOPIC_LIMIT + 1)
    own = publisher.subscribe(long_topic)
    theirs_long, theirs = other.subscribe(long_topic), other.subscribe("test.short")
    await until(lambda: publisher.subscribers("test.short") == 1)
    with caplog.at_level(logging.ERROR, "hub.bus"):
        publisher.publish(long_topic, "long")
    assert await take(own) == "long"
    assert "past the broker's 65535" in caplog.text
    await nothing(theirs_long)
    publisher.publish("test.short", "short")
    assert await take(theirs) == "short"


async def test_an_event_past_the_brokers_frame_stays_in_its_worker(
    workers: tuple[EventBus, EventBus], caplog: pytest.LogCaptureFixture
) -> None:
    """An event pickled past the broker's 64 MiB frame reaches the publisher's own
    subscribers (the broker would drop the worker's connection, and the event with it), and the
    worker stays connected."""
    publisher, other = workers
    own, theirs = publisher.subscribe("test.big"), other.subscribe("test.big")
    await until(lambda: publisher.subscribers("test.big") == 2)
    big = b"x" * MAX_FRAME
    with caplog.at_level(logging.WARNING, "hub.bus"):
        publisher.publish("test.big", big)
        assert await take(own) == big
        del big
        publisher.publish("test.big", "small")
        assert await take(theirs) == "small"  # the first it hears
        assert await take(own) == "small"
    assert "past the broker's" in caplog.text
    assert "dropped a worker's connection" not in caplog.text


async def test_a_topic_too_long_to_notify_does_not_stop_the_postgresql_bus(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A subscriber count or a large event names its topic in a notification: a topic too
    long for PostgreSQL's payload stays in its process instead of failing every publish queued
    with it (the whole process's bus, every plugin's events) for as long as the hub runs."""
    db = PostgresDatabase(PostgresServer(url), "bus")
    db.migrate("bus", [m001_bus_events])
    publisher, other = EventBus(database=db), EventBus(database=db)
    try:
        long_topic = "t" * 8000
        own, theirs_long = publisher.subscribe(long_topic), other.subscribe(long_topic)
        theirs = other.subscribe("test.short")
        await until(lambda: publisher.subscribers("test.short") == 1)
        with caplog.at_level(logging.WARNING, "hub.bus"):
            publisher.publish(long_topic, "long")
            assert await take(own) == "long"
            publisher.publish("test.short", "short")
            assert await take(theirs) == "short"
            await nothing(theirs_long)
        assert "too long for a notification" in caplog.text
        assert "cannot publish" not in caplog.text
    finally:
        publisher.close()
        other.close()
        db.close()


async def test_a_large_event_is_read_while_the_subscribers_publisher_reconnects(
    url: str, caplog: pytest.LogCaptureFixture
) -> None:
    """A large event travels as a row, read by each subscribing process on its publishing
    connection. That connection cut (a restarted pooler, an idle timeout) made the event
    dropped with "row is gone"; the row is now read on a connection of its own."""
    db = PostgresDatabase(PostgresServer(url), "bus")
    db.migrate("bus", [m001_bus_events])
    publisher, other = EventBus(database=db), EventBus(database=db)
    try:
        theirs = other.subscribe("test.large")
        await until(lambda: publisher.subscribers("test.large") == 1)
        link: Any = other._link
        await until(lambda: link._sender is not None)
        pid = link._sender.info.backend_pid
        run_sql(split_url(url)[0], f"SELECT pg_terminate_backend({pid})")
        body = "x" * 20_000  # past NOTIFY's payload: sent as a row
        with caplog.at_level(logging.WARNING, "hub.bus"):
            publisher.publish("test.large", body)
            assert await take(theirs) == body
        assert "dropped a notification" not in caplog.text
    finally:
        publisher.close()
        other.close()
        db.close()


# -- a COMMIT refused on a live connection ----------------------------------------------------
async def test_a_write_whose_commit_is_cut_leaves_the_plugins_connection_usable(
    url: str, tmp_path: Path
) -> None:
    """A write cut at its commit (the data version's row locked past the statement timeout by
    another session, an operator's cancel) is a 503, and the transaction is rolled back: the
    plugin's next reads and writes on that hub work, rather than failing with "current
    transaction is aborted" until some later write happens to end it."""
    hub = HubProcess(tmp_path / "data", {**QUIET, "HUB_DATABASE_STATEMENT_TIMEOUT": "1"}).start()
    plain, prefix = split_url(hub.env["HUB_DATABASE_URL"])
    points = "/era/rest/v1/service/integration_points"
    try:
        async with aiohttp.ClientSession(hub.url, timeout=aiohttp.ClientTimeout(30)) as session:
            mutation = {"query": 'mutation { hubAddCredential(plugin: "era") }'}
            admin = {"Authorization": f"Bearer {ADMIN_TOKEN}"}
            async with session.post("/graphql", json=mutation, headers=admin) as r:
                token = (await r.json())["data"]["hubAddCredential"]["token"]
            era = {"Authorization": f"Bearer {token}"}
            with psycopg.connect(plain, autocommit=True) as operator:
                operator.execute("BEGIN")
                operator.execute(f'SELECT n FROM "{prefix}era"._hub_data_version FOR UPDATE')  # type: ignore[arg-type]
                async with session.post(
                    points, json={"code": "cut", "type": "webhook"}, headers=era
                ) as r:
                    assert r.status == 503, await r.text()
                operator.execute("ROLLBACK")
            async with session.get(points, headers=era) as r:
                assert r.status == 200, await r.text()
                assert "cut" not in await r.text()
            async with session.post(
                points, json={"code": "kept", "type": "webhook"}, headers=era
            ) as r:
                assert r.status == 200, await r.text()
    finally:
        hub.stop()
    output = "".join(hub.output)
    assert "Traceback" not in output and "aborted" not in output, output


def m001_deferred(db: Database) -> None:
    db.execute("CREATE TABLE parent (id INTEGER PRIMARY KEY)")
    db.execute(
        "CREATE TABLE child (parent INTEGER NOT NULL REFERENCES parent (id)"
        " DEFERRABLE INITIALLY DEFERRED)"
    )


def test_a_commit_refused_by_a_deferred_constraint_frees_the_writers_lock(tmp_path: Path) -> None:
    """A plugin's deferred foreign key is checked at COMMIT: refused there, the transaction is
    rolled back, so this process writes again and the other processes (workers, hubs) are not
    locked out as busy for as long as it runs."""
    url = os.environ.get("HUB_DATABASE_URL", "")
    this, other = (Engine(tmp_path, url).open("deferred") for _ in range(2))
    try:
        this.migrate("test", [m001_deferred])
        with pytest.raises(IntegrityError), this.write() as tx:
            tx.execute("INSERT INTO child (parent) VALUES (7)")  # no parent 7: refused at COMMIT
        with other.write() as tx:
            tx.execute("INSERT INTO parent (id) VALUES (1)")
        with this.write() as tx:
            tx.execute("INSERT INTO parent (id) VALUES (2)")
            tx.execute("INSERT INTO child (parent) VALUES (2)")
        assert this.execute("SELECT parent FROM child").fetchall() == [(2,)]
    finally:
        this.close()
        other.close()

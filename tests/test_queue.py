"""The host's durable work queue (hub/queue.py) on real SQLite files: each worker is a queue on a
connection of its own (as a second process would be), and two real processes claim from one
file at once. Leases expire and are taken over, a worker that lost its lease cannot settle,
failures back off with jitter, dead letters and redelivery, schedules, the consumer job, and a
real hub that gives its leases back when it stops."""

from __future__ import annotations

import asyncio
import json
import logging
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from hub_rop import storage as rop_storage

from hub.queue import (
    QUEUE_COLUMNS,
    Backoff,
    Claim,
    Outcome,
    Table,
    WorkQueue,
    dead,
    done,
    later,
    retry,
)
from hub.storage import Database as StoredDatabase
from hub.storage import Engine
from hub.storage import SQLiteDatabase as Database
from hub.testing.namespaces import database_env
from tests.hubproc import HubProcess
from tests.rop_client import start_hub
from tests.rop_servers import AudioServer, WebhookReceiver

JOBS = Table("jobs", done="finished")


def create(path: Path) -> Database:
    database = Database(path)
    with database.write() as db:
        db.execute(
            "CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, payload TEXT,"
            f" note TEXT, {QUEUE_COLUMNS})"
        )
    return database


async def idle(claim: Claim) -> Outcome:
    return done()


def worker(database: Database, handler: Callable[[Claim], Any] = idle, **options: Any) -> WorkQueue:
    options = {"interval": 0.05, "lease": 30.0, **options}
    return WorkQueue(database, "jobs", handler, JOBS, **options)


@pytest.fixture
def path(tmp_path: Path) -> Path:
    create(tmp_path / "q.db").close()
    return tmp_path / "q.db"


@pytest.fixture
def databases(path: Path) -> Iterator[list[Database]]:
    opened: list[Database] = []

    def connect() -> Database:
        opened.append(Database(path))
        return opened[-1]

    yield [connect(), connect()]
    for database in opened:
        database.close()


def add(queue: WorkQueue, *keys: str, due: float | None = None) -> None:
    with queue.database.write() as db:
        for key in keys:
            queue.enqueue(db, {"id": key, "payload": f"p-{key}"}, due=due)


def row(database: Database, key: str) -> dict[str, Any]:
    cursor = database.execute("SELECT * FROM jobs WHERE id = ?", (key,))
    found = cursor.fetchone()
    return dict(zip([d[0] for d in cursor.description], found, strict=True)) if found else {}


def test_a_claim_is_leased_and_done_keeps_the_done_state(databases: list[Database]) -> None:
    queue = worker(databases[0])
    add(queue, "a", "b")
    claims = queue.claim(10)
    assert [c.key for c in claims] == ["a", "b"] and claims[0].attempts == 0
    leased = row(databases[1], "a")
    assert leased["claimed_by"] == claims[0].token and leased["claimed_until"] > time.time() + 29
    assert queue.claim(10) == []  # both are leased
    assert queue.settle(claims[0], done({"note": "sent"}))
    assert row(databases[1], "a") | {"next_attempt_at": 0} == {
        "id": "a",
        "payload": "p-a",
        "note": "sent",
        "status": "finished",
        "attempts": 1,
        "next_attempt_at": 0,
        "claimed_until": None,
        "claimed_by": None,
        "last_error": None,
        "dead_at": None,
    }
    assert queue.pending() == 1  # b, in flight


def test_done_without_a_done_state_deletes_the_row(databases: list[Database]) -> None:
    queue = WorkQueue(databases[0], "jobs", idle, Table("jobs"), interval=1, lease=30)
    add(queue, "a")
    (claim,) = queue.claim(1)
    assert queue.settle(claim, done()) and row(databases[0], "a") == {}


def test_an_expired_lease_is_taken_over_and_the_first_worker_cannot_settle(
    databases: list[Database],
) -> None:
    first, second = worker(databases[0], lease=0.3), worker(databases[1], lease=30)
    add(first, "a")
    (mine,) = first.claim(1)
    assert second.claim(1) == []  # the lease is live
    time.sleep(0.4)
    (theirs,) = second.claim(1)
    assert theirs.key == "a" and theirs.token != mine.token
    assert not first.settle(mine, done({"note": "first"}))  # fenced: nothing written
    assert row(databases[0], "a")["claimed_by"] == theirs.token
    assert second.settle(theirs, done({"note": "second"}))
    assert row(databases[0], "a")["note"] == "second"


def test_an_expired_lease_cannot_settle_even_before_a_takeover(databases: list[Database]) -> None:
    queue = worker(databases[0], lease=0.2)
    add(queue, "a")
    (claim,) = queue.claim(1)
    time.sleep(0.3)
    written: list[int] = []
    assert not queue.settle(claim, done(write=lambda db: written.append(1)))
    assert written == [] and row(databases[0], "a")["status"] == "pending"
    assert [c.key for c in queue.claim(1)] == ["a"]  # free for anyone, this worker included


def test_a_settle_writes_the_plugins_rows_in_the_same_transaction(
    databases: list[Database],
) -> None:
    queue = worker(databases[0])
    add(queue, "a", "b")
    first, second = queue.claim(2)

    def broken(db: Any) -> None:
        db.execute("UPDATE jobs SET note = 'half' WHERE id = 'b'")
        raise RuntimeError("the plugin's write failed")

    assert queue.settle(first, done(write=lambda db: db.execute("UPDATE jobs SET note = 'x'")))
    assert row(databases[1], "b")["note"] == "x"
    with pytest.raises(RuntimeError):
        queue.settle(second, done(write=broken))
    after = row(databases[1], "b")  # all or nothing: still leased, still pending, note unchanged
    assert (after["status"], after["note"], after["claimed_by"]) == ("pending", "x", second.token)


def test_retries_back_off_with_jitter_and_honour_retry_after(databases: list[Database]) -> None:
    backoff = Backoff(first=2.0, maximum=10.0)
    for attempts, low, high in ((1, 1.0, 2.0), (2, 2.0, 4.0), (3, 4.0, 8.0), (9, 5.0, 10.0)):
        delays = [backoff.delay(attempts) for _ in range(200)]
        assert low <= min(delays) and max(delays) <= high
        assert max(delays) - min(delays) > (high - low) / 4  # jittered, not one fixed step
    assert backoff.delay(1, retry_after=7) == 7.0
    assert backoff.delay(1, retry_after=99) == 10.0  # capped like the steps
    queue = worker(databases[0], backoff=Backoff(first=2.0, maximum=10.0), max_attempts=5)
    add(queue, "a")
    (claim,) = queue.claim(1)
    before = time.time()
    assert queue.settle(claim, retry("HTTP 503", values={"note": "503"}))
    failed = row(databases[1], "a")
    assert (failed["status"], failed["attempts"], failed["last_error"]) == (
        "pending",
        1,
        "HTTP 503",
    )
    assert before + 1.0 <= failed["next_attempt_at"] <= time.time() + 2.0
    assert failed["claimed_until"] is None and failed["note"] == "503"
    assert queue.claim(1) == [] and queue.pending() == 1  # waiting to retry: still work
    databases[1].execute("UPDATE jobs SET next_attempt_at = 0")
    (again,) = queue.claim(1)
    assert again.attempts == 1
    assert queue.settle(again, retry("HTTP 429", retry_after=8))
    assert row(databases[1], "a")["next_attempt_at"] >= time.time() + 7.9


def test_dead_letters_after_max_attempts_and_at_once_and_redelivery(
    databases: list[Database],
) -> None:
    queue = worker(databases[0], max_attempts=3, backoff=Backoff(first=0.01, maximum=0.01))
    add(queue, "a")
    for attempt in range(3):
        time.sleep(0.02)
        (claim,) = queue.claim(2)
        assert claim.attempts == attempt
        assert queue.settle(claim, retry(f"failure {attempt}"))
    add(queue, "b")
    letter = row(databases[1], "a")
    assert (letter["status"], letter["attempts"], letter["last_error"]) == ("dead", 3, "failure 2")
    assert letter["dead_at"] is not None
    (b,) = queue.claim(2)
    assert queue.settle(b, dead("HTTP 400"))
    assert (row(databases[1], "b")["status"], row(databases[1], "b")["attempts"]) == ("dead", 1)
    assert queue.pending() == 0 and queue.claim(2) == []
    with databases[1].write() as db:  # another process redelivers
        assert worker(databases[1]).redeliver(db, "a", {"note": "again"})
        assert not worker(databases[1]).redeliver(db, "a")  # pending now
        assert not worker(databases[1]).redeliver(db, "nope")
    redelivered = row(databases[0], "a")
    assert (redelivered["status"], redelivered["attempts"], redelivered["dead_at"]) == (
        "pending",
        0,
        None,
    )
    assert redelivered["note"] == "again" and queue.pending() == 1
    assert [c.key for c in queue.claim(2)] == ["a"]


def test_depth_counts_due_leased_and_failed_items_not_future_ones(
    databases: list[Database],
) -> None:
    queue = worker(databases[0])
    add(queue, "due", "leased")
    add(queue, "later", due=time.time() + 60)
    assert queue.pending() == 2
    queue.claim(1)
    assert queue.pending() == 2
    databases[1].execute("UPDATE jobs SET attempts = 1 WHERE id = 'later'")
    assert queue.pending() == 3
    assert queue.depth() == 3  # what /metrics and unspot's system category read


def test_a_table_of_schedules_runs_each_row_again_later(tmp_path: Path) -> None:
    database = Database(tmp_path / "s.db")
    with database.write() as db:
        db.execute(
            "CREATE TABLE devices (id INTEGER PRIMARY KEY, enabled INTEGER NOT NULL,"
            " next_check_at REAL NOT NULL, attempts INTEGER NOT NULL DEFAULT 0,"
            " claimed_until REAL, claimed_by TEXT, last_status TEXT)"
        )
        db.execute("INSERT INTO devices (id, enabled, next_check_at) VALUES (1, 1, 0), (2, 0, 0)")
    table = Table("devices", where="enabled = 1", state=None, due="next_check_at", error=None)
    with pytest.raises(ValueError, match="no dead letters"):
        WorkQueue(database, "checks", idle, table, interval=1, lease=5, max_attempts=3)
    queue = WorkQueue(database, "checks", idle, table, interval=1, lease=5)
    assert queue.pending() == 1  # the disabled one is no item
    (claim,) = queue.claim(5)
    assert claim.key == 1
    with pytest.raises(ValueError, match="settle with later"):
        queue.settle(claim, done())
    assert queue.settle(claim, later(claim.claimed_at + 60, {"last_status": "up"}))
    assert database.execute(
        "SELECT next_check_at, last_status FROM devices WHERE id = 1"
    ).fetchone() == (
        pytest.approx(claim.claimed_at + 60),
        "up",
    )
    assert queue.pending() == 0 and queue.claim(5) == []
    database.close()


async def test_the_consumer_job_works_items_in_tasks_and_runs_then_after_commit(
    databases: list[Database],
) -> None:
    seen: list[str] = []
    gate = asyncio.Event()

    async def handler(claim: Claim) -> Outcome:
        if claim.key == "boom":
            raise RuntimeError("a bug")
        await gate.wait()

        def after() -> None:
            seen.append(f"{claim.key} {row(databases[1], claim.key)['status']}")

        return done(then=after)

    queue = worker(databases[0], handler, concurrency=2, max_attempts=5)
    add(queue, "a", "boom", "c")
    assert queue.start_due() == 2  # two slots
    assert queue.start_due() == 0
    await asyncio.sleep(0.05)  # boom failed: a retry, its slot free again
    failed = row(databases[1], "boom")
    assert (failed["attempts"], failed["last_error"]) == (1, "RuntimeError: a bug")
    assert queue.start_due() == 1  # c
    gate.set()
    await asyncio.sleep(0.05)
    assert sorted(seen) == ["a finished", "c finished"]  # then() sees the committed row


async def test_leases_of_running_items_are_renewed_and_a_lost_one_is_cancelled(
    databases: list[Database],
) -> None:
    cancelled: list[str] = []

    async def slow(claim: Claim) -> Outcome:
        try:
            await asyncio.sleep(1.2)
        except asyncio.CancelledError:
            cancelled.append(claim.key)
            raise
        return done()

    queue = worker(databases[0], slow, lease=0.6, concurrency=2)
    other = worker(databases[1], lease=30)
    add(queue, "a")
    assert queue.start_due() == 1
    for _ in range(15):  # the host's timer, every 0.1 s
        await asyncio.sleep(0.1)
        queue.start_due()
        assert other.claim(1) == []  # renewed before it ran out
    assert row(databases[1], "a")["status"] == "finished"
    add(queue, "b")
    assert queue.start_due() == 1
    databases[1].execute("UPDATE jobs SET claimed_by = 'someone else' WHERE id = 'b'")
    await asyncio.sleep(0.3)
    queue.start_due()  # the renewal finds the lease gone
    await asyncio.sleep(0.05)
    assert cancelled == ["b"] and row(databases[1], "b")["claimed_by"] == "someone else"


async def test_a_long_then_after_the_settle_is_neither_cancelled_nor_a_lost_lease(
    databases: list[Database], caplog: pytest.LogCaptureFixture
) -> None:
    """After the settle the item's lease is given back; its ``then()`` may run for longer than
    the renewal period without being taken for work whose lease was lost."""
    finished: list[str] = []

    async def handler(claim: Claim) -> Outcome:
        async def announce() -> None:
            await asyncio.sleep(0.5)  # past two renewals of a 0.4 s lease
            finished.append(claim.key)

        return done(then=announce)

    queue = worker(databases[0], handler, lease=0.4)
    add(queue, "a")
    assert queue.start_due() == 1
    with caplog.at_level(logging.WARNING, logger="hub.queue"):
        await asyncio.sleep(0.8)
    assert finished == ["a"] and row(databases[1], "a")["status"] == "finished"
    assert "lost the lease" not in caplog.text


async def test_stop_cancels_the_work_in_flight_and_releases_its_leases(
    databases: list[Database],
) -> None:
    started = asyncio.Event()

    async def hang(claim: Claim) -> Outcome:
        started.set()
        await asyncio.Event().wait()
        return done()

    queue = worker(databases[0], hang, concurrency=1)
    add(queue, "a", "b")
    assert queue.start_due() == 1
    await started.wait()
    assert row(databases[1], "a")["claimed_until"] is not None
    await queue.stop()
    released = row(databases[1], "a")
    assert (released["claimed_until"], released["claimed_by"], released["attempts"]) == (
        None,
        None,
        0,
    )
    assert [c.key for c in worker(databases[1]).claim(5)] == ["a", "b"]  # at once, not later
    assert queue.start_due() == 0  # a stopped queue claims nothing


CLAIMER = """
import json, sys, time
from hub.queue import Table, WorkQueue, done
from hub.storage import SQLiteDatabase as Database

async def idle(claim):
    return done()

queue = WorkQueue(Database(sys.argv[1]), "jobs", idle, Table("jobs"), interval=1, lease=60)
start = float(sys.argv[2])
time.sleep(max(0.0, start - time.time()))
mine = []
while True:
    claims = queue.claim(2)
    if not claims:
        break
    mine += [c.key for c in claims]
    time.sleep(0.002)  # the other process's turn
print(json.dumps(mine))
"""


def test_two_processes_claiming_at_once_never_both_get_an_item(path: Path) -> None:
    database = Database(path)
    queue = worker(database)
    add(queue, *(f"item-{i:04d}" for i in range(600)))
    database.close()
    start = time.time() + 3  # both are past their imports by then
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", CLAIMER, str(path), str(start)],
            stdout=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    got = [json.loads(p.communicate(timeout=60)[0]) for p in procs]
    assert all(p.returncode == 0 for p in procs)
    assert got[0] and got[1], "both processes claimed"
    assert not set(got[0]) & set(got[1])
    assert sorted(got[0] + got[1]) == [f"item-{i:04d}" for i in range(600)]


PLUGIN = '''"""A third-party plugin whose one work queue hangs on every item until the hub stops."""
import asyncio

from hub.hookspecs import hookimpl
from hub.queue import QUEUE_COLUMNS, Table, WorkQueue


def m001_jobs(db):
    db.execute(f"CREATE TABLE jobs (id TEXT PRIMARY KEY, {QUEUE_COLUMNS})")
    db.execute("INSERT INTO jobs (id) VALUES ('one'), ('two')")


async def hang(claim):
    await asyncio.Event().wait()


@hookimpl
def register_migrations(register):
    register(m001_jobs)


@hookimpl
def register_queues(hub, register):
    register(WorkQueue(hub.database("worker"), "jobs", hang, Table("jobs"), interval=0.1,
                       lease=600, concurrency=1, job="consumer"))
'''


def test_a_hub_runs_a_plugins_queue_and_releases_its_leases_when_it_stops(
    tmp_path: Path,
) -> None:
    plugins = tmp_path / "plugins"
    plugins.mkdir()
    (plugins / "worker.py").write_text(PLUGIN)
    hub = HubProcess(
        tmp_path / "data", env={"HUB_PLUGINS": "worker", "HUB_PLUGINS_DIR": str(plugins)}
    ).start()
    try:
        database = hub_database_of(tmp_path / "data", "worker")
        deadline = time.monotonic() + 10
        while database.execute("SELECT count(claimed_by) FROM jobs").fetchone()[0] != 1:
            assert time.monotonic() < deadline, "the hub never claimed an item"
            time.sleep(0.05)
        with urllib.request.urlopen(hub.url + "/metrics", timeout=10) as resp:
            metrics = resp.read().decode()
        assert 'hub_queue_depth{queue="worker.jobs"} 2.0' in metrics
        assert 'hub_timer_runs_total{timer="worker.consumer"}' in metrics
    finally:
        assert hub.stop() == 0
    leases = database.execute("SELECT claimed_until, claimed_by, attempts FROM jobs").fetchall()
    assert leases == [(None, None, 0), (None, None, 0)]
    database.close()


def hub_database_of(data_dir: Path, name: str) -> StoredDatabase:
    """What a hub the kit starts on ``data_dir`` keeps as ``name``: a file, or a schema in
    the PostgreSQL namespace the kit gives that directory."""
    url = database_env(data_dir, None).get("HUB_DATABASE_URL", "")
    return Engine(data_dir, url).open(name)


def wait_for_row(database: StoredDatabase, sql: str, params: tuple[Any, ...], want: Any) -> None:
    deadline = time.monotonic() + 20
    while (found := database.execute(sql, params).fetchone()) != want:
        assert time.monotonic() < deadline, f"{sql}: {found}, expected {want}"
        time.sleep(0.05)


def test_rops_pending_work_survives_the_upgrade_to_the_queue(tmp_path: Path) -> None:
    """A data directory of the version before the queue: a download waiting under a lease of
    that version and a delivery that failed once. After the upgrade both finish."""
    audio, receiver = AudioServer(200_000), WebhookReceiver({"/old": "endpoint-secret-abcdefgh"})
    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    database = hub_database_of(data, "rop")
    database.migrate("rop", rop_storage.MIGRATIONS[:4])
    now = time.time()
    with database.write() as db:
        db.execute(
            "INSERT INTO calls (call_id, manager_id, deal_id, deal_stage_id, audio_url, status,"
            " claimed_until, created_at, updated_at)"
            " VALUES ('old-call', 'm1', 'd1', 's1', ?, 'downloading', ?, ?, ?)",
            (audio.url("/call.wav"), now + 3600, now, now),
        )
        db.execute(
            "INSERT INTO webhook_deliveries (id, event, call_id, target_kind, target_id, url,"
            " secret, body, status, attempts, next_attempt_at, last_status, last_error,"
            " created_at) VALUES ('old-delivery', 'table.result', 'old-call', 'table', 'TBL_1',"
            " ?, 'endpoint-secret-abcdefgh', ?, 'pending', 1, ?, 503, 'HTTP 503', ?)",
            (receiver.url("/old"), b'{"call_id": "old-call"}', now, now),
        )
    hub = start_hub(data)
    try:
        wait_for_row(
            database,
            "SELECT status, duration > 2 FROM calls WHERE call_id = ?",
            ("old-call",),
            ("awaiting_analysis", 1),
        )
        wait_for_row(
            database,
            "SELECT status, attempts, last_status FROM webhook_deliveries WHERE id = ?",
            ("old-delivery",),
            ("delivered", 2, 200),
        )
    finally:
        hub.stop()
        audio.stop()
        receiver.stop()
    (sent,) = receiver.at("/old")
    assert sent.headers["X-Hub-Delivery"] == "old-delivery" and sent.signature_ok
    assert database.execute("SELECT count(*) FROM audio_downloads").fetchone() == (0,)
    database.close()

"""Several hubs on one PostgreSQL database act as one: a subscription on one hub sees what is
written through another (LISTEN/NOTIFY), and a ``hub``-scoped periodic job runs in one hub of
the cluster at a time, taken over by another when its holder is killed."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import psycopg
import pytest

from hub.storage.postgres import split_url
from hub.testing.postgres import TemporaryPostgres
from tests.hubproc import ADMIN_TOKEN, HubProcess
from tests.ws_client import PROTOCOL, next_message

pytestmark = pytest.mark.skipif(
    not os.environ.get("HUB_DATABASE_URL") and not os.environ.get("HUB_TEST_POSTGRES"),
    reason="several hubs as one needs PostgreSQL: set HUB_TEST_POSTGRES",
)

PURGE_INTERVAL = 1.0  # seconds: the notes plugin's hub-scoped purge job
PURGE_KEY = "notes.purge_expired"


def _hub(data_dir: Path, **env: str) -> HubProcess:
    return HubProcess(
        data_dir,
        env={
            "HUB_PLUGINS": "notes",
            "HUB_NOTES_PURGE_INTERVAL": str(PURGE_INTERVAL),
            "HUB_NOTES_CREATE_LIMIT": "1000",
            # the test's one database, not a namespace of this data directory's own
            "HUB_DATABASE_URL": os.environ.get("HUB_DATABASE_URL", ""),
            **env,
        },
    )


@pytest.fixture
def cluster(tmp_path: Path) -> Iterator[tuple[HubProcess, HubProcess]]:
    """Two hubs, each with its own data directory, on the test's one database."""
    assert os.environ.get("HUB_DATABASE_URL"), "the hub_database fixture sets it on PostgreSQL"
    first = _hub(tmp_path / "a").start()
    try:
        second = _hub(tmp_path / "b").start()
    except BaseException:
        first.stop()
        raise
    try:
        yield first, second
    finally:
        first.stop()
        second.stop()


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def _readyz_subscribers(hub: HubProcess) -> str:
    async with (
        aiohttp.ClientSession() as session,
        session.get(hub.url + "/readyz", headers=bearer(ADMIN_TOKEN)) as resp,
    ):
        ready = await resp.json()
    (probe,) = [p for p in ready["probes"] if p["plugin"] == "notes"]
    return str(probe["detail"]).split("subscribers: ")[1]


async def _create(hub: HubProcess, token: str, title: str, body: str) -> dict[str, Any]:
    async with (
        aiohttp.ClientSession() as session,
        session.post(
            hub.url + "/notes/api/notes", json={"title": title, "body": body}, headers=bearer(token)
        ) as resp,
    ):
        created = await resp.json()
        assert resp.status == 201, created
        return created  # type: ignore[no-any-return]


async def _subscribe(hub: HubProcess, ws: aiohttp.ClientWebSocketResponse, token: str) -> None:
    await ws.send_json({"type": "connection_init", "payload": bearer(token)})
    assert (await next_message(ws))["type"] == "connection_ack"
    query = "subscription { notesNoteAdded { id title body } }"
    await ws.send_json({"id": "1", "type": "subscribe", "payload": {"query": query}})


async def _heard_of_one_subscriber(hub: HubProcess) -> None:
    deadline = time.monotonic() + 15
    while await _readyz_subscribers(hub) != "1":
        assert time.monotonic() < deadline, "the other hub never heard of the subscription"
        await asyncio.sleep(0.05)


async def test_a_subscription_on_one_hub_sees_a_write_through_another(
    cluster: tuple[HubProcess, HubProcess],
) -> None:
    first, second = cluster
    reader = first.creds("notes", scope="read")["token"]
    writer = first.creds("notes")["token"]  # issued through one hub, honoured by both
    async with (
        aiohttp.ClientSession() as session,
        session.ws_connect(first.url + "/graphql", protocols=[PROTOCOL]) as ws,
    ):
        await _subscribe(first, ws, reader)
        # subscriber counts are the cluster's: the other hub hears of this one's subscriber
        await _heard_of_one_subscriber(second)

        # a small event goes in the notification, a large one through a row of its own
        for title, body in (("small", "through hub B"), ("large", "x" * 9_000)):
            note = await _create(second, writer, title, body)
            message = await next_message(ws)
            assert message["type"] == "next" and message["id"] == "1", message
            assert message["payload"]["data"]["notesNoteAdded"] == {
                "id": note["id"],
                "title": title,
                "body": body,
            }

        # one order for every hub: what both hubs publish arrives as committed, none twice
        titles = [f"n{i}" for i in range(10)]
        for i, title in enumerate(titles):
            await _create(second if i % 2 else first, writer, title, "ordered")
        received = [
            (await next_message(ws))["payload"]["data"]["notesNoteAdded"]["title"] for _ in titles
        ]
        assert received == titles

        await ws.send_json({"id": "1", "type": "complete"})
        deadline = time.monotonic() + 10
        while await _readyz_subscribers(second) != "0":
            assert time.monotonic() < deadline, "the other hub never heard the subscription end"
            await asyncio.sleep(0.05)


def _sql(query: str, *params: Any) -> list[tuple[Any, ...]]:
    """``query`` on the cluster's database, ``{workers}`` naming its coordination schema."""
    url, prefix = split_url(os.environ["HUB_DATABASE_URL"])
    with psycopg.connect(url, autocommit=True) as conn:
        cursor = conn.execute(query.format(workers=f'"{prefix}_workers"'), params)
        return cursor.fetchall() if cursor.description else []


def _runs() -> dict[str, int]:
    """The purge job's runs per process of the cluster (its timer statistics)."""
    rows = _sql("SELECT worker, runs FROM {workers}.timer_stats WHERE key = %s", PURGE_KEY)
    return {str(worker): int(runs) for worker, runs in rows}


def _lease() -> tuple[int, float]:
    """The purge job's lease: the holder's pid, and when it last took or renewed it."""
    ((holder, until),) = _sql(
        "SELECT holder, until FROM {workers}.leases WHERE name = %s", f"timer:{PURGE_KEY}"
    )
    return int(str(holder).split(":")[1]), float(until) - 1.5 * PURGE_INTERVAL


def _runs_of(hub: HubProcess) -> int:
    """The runs of the job in ``hub`` (its rows are named after its data directory)."""
    return sum(runs for name, runs in _runs().items() if f":{hub.data_dir.resolve()}:" in name)


def test_a_hub_scoped_job_runs_in_one_hub_and_another_takes_over(
    cluster: tuple[HubProcess, HubProcess],
) -> None:
    first, second = cluster
    pids = {first.proc.pid: first, second.proc.pid: second}  # type: ignore[union-attr]
    deadline = time.monotonic() + 10
    while sum(_runs().values()) < 2:
        assert time.monotonic() < deadline, f"the job never ran: {_runs()}"
        time.sleep(0.1)
    holder_pid, _ = _lease()
    holder = pids[holder_pid]
    other = second if holder is first else first

    before = {hub: _runs_of(hub) for hub in cluster}
    time.sleep(4 * PURGE_INTERVAL)
    after = {hub: _runs_of(hub) for hub in cluster}
    assert after[other] == before[other], _runs()  # one hub runs it, never both
    assert 3 <= after[holder] - before[holder] <= 5, _runs()

    killed_at = time.time()
    holder.stop(signal.SIGKILL)
    deadline = time.monotonic() + 10
    while _lease()[0] == holder_pid:
        assert time.monotonic() < deadline, "no hub took the lease over"
        time.sleep(0.05)
    new_pid, taken_at = _lease()
    assert pids[new_pid] is other
    # taken at the latest two intervals after the holder's last renewal, which precedes the kill
    assert taken_at - killed_at <= 2 * PURGE_INTERVAL + 0.5, taken_at - killed_at
    ran = _runs_of(other)
    deadline = time.monotonic() + 10
    while _runs_of(other) < ran + 2:
        assert time.monotonic() < deadline, f"the other hub never ran the job: {_runs()}"
        time.sleep(0.1)


async def test_the_hubs_listen_again_after_postgresql_restarts(tmp_path: Path) -> None:
    """Events published while a listener is down are lost (documented); once PostgreSQL is
    back, each hub listens again and hears the others' subscriber counts again."""
    with TemporaryPostgres() as server:
        env = {"HUB_DATABASE_URL": server.url()}
        first = _hub(tmp_path / "a", **env).start()
        second = _hub(tmp_path / "b", **env).start()
        try:
            reader = first.creds("notes", scope="read")["token"]
            writer = first.creds("notes")["token"]
            async with (
                aiohttp.ClientSession() as session,
                session.ws_connect(f"{first.url}/graphql", protocols=[PROTOCOL]) as ws,
            ):
                await _subscribe(first, ws, reader)
                await _heard_of_one_subscriber(second)
                server.restart()
                created: set[str] = set()
                deadline = time.monotonic() + 20
                while True:  # until a note written through B after the restart reaches A
                    assert time.monotonic() < deadline, "no event after the restart"
                    async with session.post(
                        second.url + "/notes/api/notes",
                        json={"title": "after", "body": "the restart"},
                        headers=bearer(writer),
                    ) as resp:
                        if resp.status != 201:  # refused while the hub reconnects
                            assert resp.status == 503, await resp.text()
                            await asyncio.sleep(0.1)
                            continue
                        created.add((await resp.json())["id"])
                    try:
                        message = await asyncio.wait_for(ws.receive_json(), 1)
                    except TimeoutError:
                        continue  # published while A's listener was reconnecting: lost
                    assert message["payload"]["data"]["notesNoteAdded"]["id"] in created
                    break
                await _heard_of_one_subscriber(second)
        finally:
            first.stop()
            second.stop()


def test_a_hub_restarted_after_a_kill_mid_run_reports_its_timers_idle(tmp_path: Path) -> None:
    """A hub killed during a run left its row ``running``; started again, it clears its own rows
    (here of a timer it no longer runs, so no new run clears it) and only those."""
    hub = _hub(tmp_path / "a").start()
    deadline = time.monotonic() + 10
    while _runs_of(hub) < 1:
        assert time.monotonic() < deadline, f"the job never ran: {_runs()}"
        time.sleep(0.1)
    hub.stop(signal.SIGKILL)
    (label,) = [name for name in _runs() if f":{hub.data_dir.resolve()}:" in name]
    insert = "INSERT INTO {workers}.timer_stats (key, worker, running) VALUES (%s, %s, 1)"
    _sql(insert, "gone.job", label)
    _sql(insert, "gone.job", "another hub")
    hub.start()
    try:
        query = "SELECT worker, running FROM {workers}.timer_stats WHERE key = 'gone.job'"
        rows = dict(_sql(query))
        assert rows == {label: 0, "another hub": 1}
    finally:
        hub.stop()

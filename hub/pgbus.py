"""The event bus across every hub (and every worker of each) on one PostgreSQL database: each
process publishes with ``NOTIFY`` and delivers to its own subscribers only what its ``LISTEN``
connection receives, so every process sees every event in one order, the order in which the
notifications were committed.

A notification's payload is JSON: ``["E", topic, event in base64]`` (the event pickled, read
back by :mod:`hub.eventcodec`); an event too large for a payload (PostgreSQL's limit is 8000
bytes) goes into the ``bus_events`` table and ``["R", topic, row id]`` is notified instead (rows
are deleted ``KEEP`` seconds later).
Processes also tell each other how many subscribers they have per topic (``["C", process,
topic, count]``, repeated every ``HEARTBEAT`` seconds and forgotten after ``EXPIRES``; ``["H",
process]`` asks everyone to repeat theirs at once, ``["B", process]`` says one is leaving), so
``subscribers(topic)`` counts the whole cluster: the process that polls an upstream (one hub
holds its lease) knows whether anyone, on any hub, listens.

``publish`` commits its ``NOTIFY`` before it returns (one short statement on the event loop,
as every query of :mod:`hub.storage` is), so an event published before a request's answer is
ordered before any event a later request publishes, through whichever hub. Events published
while PostgreSQL is unreachable wait (up to ``PENDING``) and go once it is back; what a
listener misses while its connection is down is lost."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
import secrets
import time
from collections.abc import Callable, Collection, Mapping
from typing import TYPE_CHECKING, Any

from hub.buslink import Backoff, BusLink, tally
from hub.storage.postgres import CONNECT  # a dead server or network noticed within about 11 s

if TYPE_CHECKING:
    from hub.storage import Database

log = logging.getLogger("hub.bus")

CHANNEL = "hub_events"  # after the database URL's schema_prefix: one channel per cluster
PAYLOAD_LIMIT = 7900  # bytes: PostgreSQL refuses a NOTIFY payload of 8000 or more
KEEP = 60.0  # seconds a large event's row stays readable
HEARTBEAT = 10.0  # seconds between repeats of this process's subscriber counts
EXPIRES = 3 * HEARTBEAT  # another process's counts not heard of for this long are forgotten
PENDING = 1000  # events kept while PostgreSQL is unreachable


def m001_bus_events(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS bus_events (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " topic TEXT NOT NULL, body BLOB NOT NULL, at REAL NOT NULL)"
    )


class PostgresLink(BusLink[tuple[str, Any]]):  # ("notify", payload) | ("row", (topic, body))
    """A process's connections to the cluster's bus: a ``LISTEN`` one, read as the event loop
    runs, and one that publishes (and reads large events' rows).

    ``database`` is the hub's coordination schema (where ``bus_events`` is); ``topics`` and
    ``deliver`` are the bus's (:class:`hub.buslink.BusLink`)."""

    far_end = "PostgreSQL"

    def __init__(
        self,
        database: Database,
        topics: Mapping[str, Collection[Any]],
        deliver: Callable[[str, Any], None],
    ) -> None:
        import psycopg

        from hub.storage.postgres import PostgresDatabase

        assert isinstance(database, PostgresDatabase)
        self._psycopg = psycopg
        self.server = database.server
        self.url = database.server.url
        self.table = f'"{database.schema}".bus_events'
        self.channel = database.server.schema_prefix + CHANNEL
        self.process = secrets.token_hex(8)
        super().__init__(topics, deliver, PENDING)
        self._others: dict[str, tuple[float, dict[str, int]]] = {}  # process -> heard, counts
        self._sender: Any = None  # the publishing connection, while it works
        self._reconnecting: asyncio.Task[None] | None = None
        self._start()

    # -- what the bus calls --------------------------------------------------------------
    def counted(self, topic: str) -> None:
        """The number of local subscribers of ``topic`` changed: tell the others."""
        self._start()
        self._announce(topic)

    def others(self, topic: str) -> int:
        """Subscribers of ``topic`` in the other processes of the cluster, as last heard."""
        self._start()
        cutoff = time.monotonic() - EXPIRES
        for process in [p for p, (heard, _) in self._others.items() if heard < cutoff]:
            del self._others[process]
        return sum(counts.get(topic, 0) for _, counts in self._others.values())

    def close(self) -> None:
        """Say goodbye (with what is queued), then close the connections."""
        if self._closed:
            return
        self._send("notify", json.dumps(["B", self.process]))
        super().close()
        if self._reconnecting is not None:
            self._reconnecting.cancel()
        self._others.clear()
        if self._sender is not None:
            self._sender.close()
            self._sender = None

    # -- outgoing ------------------------------------------------------------------------
    def _publish(self, topic: str, body: bytes) -> None:
        payload = json.dumps(["E", topic, base64.b64encode(body).decode()])
        if len(payload.encode()) < PAYLOAD_LIMIT:
            self._send("notify", payload)
        else:
            self._send("row", (topic, body))

    def _announce(self, topic: str) -> None:
        if self._refused(topic, None) is None:
            count = len(self._topics.get(topic, ()))
            self._send("notify", json.dumps(["C", self.process, topic, count]))

    def _refused(self, topic: str, body: bytes | None) -> str | None:
        """Every notification names its topic ("C", "R"): one whose name alone would take a
        payload past PostgreSQL's limit is kept in this process, or it would fail every
        publish queued with it, whatever their topics."""
        longest = json.dumps(["C", self.process, topic, 2**31 - 1])
        if len(longest.encode()) >= PAYLOAD_LIMIT:
            return f"its topic is too long for a notification ({len(topic.encode())} bytes)"
        return None

    def _send(self, kind: str, item: Any) -> None:
        if self._closed:
            return
        self._start()
        self._wait((kind, item))
        if self._reconnecting is None and not self._flushed():
            self._reconnect_later()

    def _connect(self) -> Any:
        """The publishing connection: a publish blocked on a lock (another session's on
        ``bus_events``) gives up as the data connections do, and waits queued for the next."""
        conn = self._psycopg.connect(self.url, autocommit=True, **CONNECT)
        try:
            self.server.bound(conn)
        except BaseException:
            conn.close()
            raise
        return conn

    def _flushed(self) -> bool:
        """Send what is queued, in order, in one transaction: its notifications reach every
        listener together, after those committed before. False: it waits for a connection."""
        conn = self._sender
        if conn is None or conn.closed or conn.broken:
            return False
        try:
            with conn.transaction():
                self._send_batch(conn, list(self._pending))
        except self._psycopg.Error as exc:
            log.warning("event bus: cannot publish to PostgreSQL (%s); retrying", _line(exc))
            conn.close()
            self._sender = None
            return False
        self._pending.clear()
        self._flowing()
        return True

    def _send_batch(self, conn: Any, batch: list[tuple[str, Any]]) -> None:
        stored = False
        for kind, item in batch:
            if kind == "row":
                topic, body = item
                row = conn.execute(
                    f"INSERT INTO {self.table} (topic, body, at) VALUES (%s, %s, %s) RETURNING id",
                    (topic, body, time.time()),
                ).fetchone()
                item, stored = json.dumps(["R", topic, row[0]]), True
            conn.execute("SELECT pg_notify(%s, %s)", (self.channel, item))
        if stored:
            conn.execute(f"DELETE FROM {self.table} WHERE at < %s", (time.time() - KEEP,))

    def _reconnect_later(self) -> None:
        """Connect (again) off the event loop, then send what waits."""
        if self._reconnecting is not None or self._closed:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            return  # no loop yet: what is queued goes once one runs
        self._reconnecting = loop.create_task(self._reconnect(), name="hub event bus: connect")

    async def _reconnect(self) -> None:
        backoff = Backoff()
        try:
            while not self._closed:
                try:
                    self._sender = await asyncio.to_thread(self._connect)
                except (self._psycopg.Error, OSError) as exc:
                    await backoff.failed(
                        "event bus: cannot reach PostgreSQL (%s); retrying", _line(exc)
                    )
                    continue
                if self._closed:
                    self._sender.close()
                    return
                if self._flushed():
                    backoff.succeeded("event bus: publishing to PostgreSQL again")
                    return
                await backoff.failed(None)  # _flushed said why
        finally:
            self._reconnecting = None

    async def _heartbeat(self) -> None:
        while True:
            await asyncio.sleep(HEARTBEAT)
            for topic in list(self._topics):
                self._announce(topic)

    # -- incoming ------------------------------------------------------------------------
    async def _listening(self) -> None:
        backoff = Backoff()
        while True:
            try:
                conn = await self._psycopg.AsyncConnection.connect(
                    self.url, autocommit=True, **CONNECT
                )
                async with conn:
                    await conn.execute(f'LISTEN "{self.channel}"')
                    backoff.succeeded("event bus: listening to PostgreSQL again")
                    self._send("notify", json.dumps(["H", self.process]))
                    for topic in list(self._topics):
                        self._announce(topic)
                    async for notify in conn.notifies():
                        await self._received(notify.payload)
            except (self._psycopg.Error, OSError) as exc:
                self._others.clear()
                await backoff.failed(
                    "event bus: lost PostgreSQL (%s); reconnecting: events published "
                    "meanwhile do not reach this process",
                    _line(exc),
                )

    async def _received(self, payload: str) -> None:
        try:
            message = json.loads(payload)
            kind = message[0]
            if kind == "E":
                _, topic, encoded = message
                if topic in self._topics:
                    self.received(topic, base64.b64decode(encoded))
            elif kind == "R":
                _, topic, row = message
                if topic in self._topics:  # the row is read only for a subscriber here
                    # off the loop (a query, or a connection of its own), events kept in order
                    self.received(topic, await asyncio.to_thread(self._row, int(row)))
            elif kind == "C":
                _, process, topic, count = message
                self._counted_by(str(process), str(topic), int(count))
            elif kind == "H" and message[1] != self.process:
                for topic in list(self._topics):
                    self._announce(topic)
            elif kind == "B":
                self._others.pop(str(message[1]), None)
        except (ValueError, TypeError, IndexError, LookupError) as exc:
            log.warning("event bus: dropped a notification: %s", exc)

    def _row(self, row: int) -> bytes:
        """A large event's body, read on the publishing connection, or on a connection of its
        own while that one is down or reconnecting (the row is there for ``KEEP`` seconds)."""
        query = f"SELECT body FROM {self.table} WHERE id = %s"
        conn = self._sender
        try:
            if conn is not None and not conn.closed and not conn.broken:
                try:
                    found = conn.execute(query, (row,)).fetchone()
                except self._psycopg.OperationalError:  # the connection went: try a new one
                    found = self._read_alone(query, row)
            else:
                found = self._read_alone(query, row)
        except (self._psycopg.Error, OSError) as exc:
            raise LookupError(f"event row {row} could not be read: {_line(exc)}") from None
        if found is None:
            raise LookupError(f"event row {row} is gone (rows are kept {KEEP:g} s)")
        return bytes(found[0])

    def _read_alone(self, query: str, row: int) -> Any:
        with self._connect() as conn:
            return conn.execute(query, (row,)).fetchone()

    def _counted_by(self, process: str, topic: str, count: int) -> None:
        if process == self.process:
            return
        _, counts = self._others.get(process, (0.0, {}))
        tally(counts, topic, count)
        if counts:
            self._others[process] = (time.monotonic(), counts)
        else:
            self._others.pop(process, None)

    # -- the tasks -----------------------------------------------------------------------
    def _run(self, loop: asyncio.AbstractEventLoop) -> list[asyncio.Task[None]]:
        tasks = [
            loop.create_task(self._listening(), name="hub event bus: listen"),
            loop.create_task(self._heartbeat(), name="hub event bus: heartbeat"),
        ]
        self._reconnect_later()
        return tasks


def _line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

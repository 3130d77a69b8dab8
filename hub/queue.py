"""One durable, leased work queue for every plugin (rop's webhooks and downloads, monitorozas'
checks). Items are rows of a table in the plugin's own database, so a plugin enqueues inside the
write transaction that makes the work (the outbox pattern). A claim is one ``UPDATE ...
RETURNING`` in a ``BEGIN IMMEDIATE`` transaction, so processes sharing a data directory never both
hold an item; a worker whose lease expired or was taken over cannot settle it (fencing)."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
import itertools
import logging
import os
import random
import re
import secrets
import socket
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from typing import Any, Literal

import orjson

from hub.outage import log_failure
from hub.registrations import BackgroundQueue
from hub.storage import Database

log = logging.getLogger("hub.queue")

PENDING = "pending"
DEAD = "dead"
# the queue's columns under their default names, for a table made for a queue:
# CREATE TABLE jobs (id TEXT PRIMARY KEY, payload TEXT NOT NULL, {QUEUE_COLUMNS})
QUEUE_COLUMNS = (
    "status TEXT NOT NULL DEFAULT 'pending', attempts INTEGER NOT NULL DEFAULT 0,"
    " next_attempt_at REAL NOT NULL DEFAULT 0, claimed_until REAL, claimed_by TEXT,"
    " last_error TEXT, dead_at REAL"
)
RENEW_EVERY = 1 / 4  # of the lease: how often the leases of running items are extended
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*$")


def _identifier(name: str, what: str) -> str:
    if not IDENTIFIER.match(name):
        raise ValueError(f"{what}: {name!r} is not a column or table name")
    return name


@dataclass(frozen=True)
class Table:
    """Where a queue keeps items: rows of a plugin table. The queue owns the columns named here
    (the defaults are those of ``QUEUE_COLUMNS``; a table that predates the queue names its
    own); the rest of the row is the plugin's. A row is an item while ``state`` is ``'pending'``
    and ``where`` (SQL over the row) holds. ``done`` is the state a finished item keeps; ``None``
    deletes the row. ``state=None`` makes a table of schedules: items are never done or dead,
    each run is settled with :func:`later`."""

    name: str
    key: str = "id"
    where: str = ""
    state: str | None = "status"
    done: str | None = None
    due: str = "next_attempt_at"
    attempts: str = "attempts"
    lease_until: str = "claimed_until"
    lease_owner: str = "claimed_by"
    error: str | None = "last_error"
    dead_at: str | None = "dead_at"

    def __post_init__(self) -> None:
        names = ("name", "key", "state", "due", "attempts", "lease_until", "lease_owner", "error")
        for label in (*names, "dead_at"):
            value = getattr(self, label)
            if value is not None:
                _identifier(value, f"queue table {self.name}: {label}")

    @property
    def waiting(self) -> str:
        """SQL: the row is an item of the queue (due or not, leased or not)."""
        parts = [f"{self.state} = '{PENDING}'"] if self.state else []
        if self.where:
            parts.append(f"({self.where})")
        return " AND ".join(parts) or "1"


@dataclass(frozen=True)
class Claim:
    """One item under this worker's lease. ``attempts`` counts the settled attempts before this
    one; ``token`` is the lease owner the settle is fenced by."""

    queue: str
    table: str
    key: Any
    attempts: int
    token: str
    claimed_at: float


Kind = Literal["done", "retry", "dead", "later"]


@dataclass(frozen=True)
class Outcome:
    """How a handler's run ends (build it with :func:`done`, :func:`retry`, :func:`dead`,
    :func:`later`). ``values`` are more columns of the item's row, set in the same statement;
    ``write(db)`` makes more writes in the same transaction; both happen only while the lease
    holds. ``then()`` runs (and is awaited) after that transaction commits."""

    kind: Kind
    error: str | None = None
    retry_after: float | None = None
    at: float | None = None
    values: Mapping[str, Any] = field(default_factory=dict)
    write: Callable[[Any], None] | None = None
    then: Callable[[], Awaitable[None] | None] | None = None


def done(
    values: Mapping[str, Any] | None = None,
    *,
    write: Callable[[Any], None] | None = None,
    then: Callable[[], Awaitable[None] | None] | None = None,
) -> Outcome:
    """Finished: the row takes the table's ``done`` state, or is deleted."""
    return Outcome("done", values=values or {}, write=write, then=then)


def retry(
    error: str,
    retry_after: float | None = None,
    values: Mapping[str, Any] | None = None,
    *,
    write: Callable[[Any], None] | None = None,
) -> Outcome:
    """Failed for now: due again after the backoff (never sooner than ``retry_after`` seconds),
    dead once ``max_attempts`` attempts have failed."""
    return Outcome("retry", error=error, retry_after=retry_after, values=values or {}, write=write)


def dead(
    error: str,
    values: Mapping[str, Any] | None = None,
    *,
    write: Callable[[Any], None] | None = None,
) -> Outcome:
    """Failed for good (a dead letter) until :meth:`WorkQueue.redeliver`."""
    return Outcome("dead", error=error, values=values or {}, write=write)


def later(
    at: float,
    values: Mapping[str, Any] | None = None,
    *,
    write: Callable[[Any], None] | None = None,
    then: Callable[[], Awaitable[None] | None] | None = None,
) -> Outcome:
    """This run is over and the item runs again at ``at`` (a schedule), attempts reset."""
    return Outcome("later", at=at, values=values or {}, write=write, then=then)


@dataclass(frozen=True)
class Backoff:
    """Exponential: ``first · 2^(attempts-1)`` seconds capped at ``maximum``, times a random
    0.5 to 1.0 (jitter, so retries of many items spread out), never sooner than the handler's
    ``retry_after`` (itself capped at ``maximum``)."""

    first: float = 1.0
    maximum: float = 3600.0

    def delay(self, attempts: int, retry_after: float | None = None) -> float:
        step = min(self.maximum, self.first * 2 ** max(0, attempts - 1))
        wait = step * random.uniform(0.5, 1.0)
        if retry_after is not None:
            wait = max(wait, min(retry_after, self.maximum))
        return wait


Handler = Callable[[Claim], Awaitable[Outcome]]


@dataclass
class _Running:
    claim: Claim
    task: asyncio.Task[None]
    settled: bool = False  # its lease given back: only the outcome's ``then()`` may be left


class WorkQueue(BackgroundQueue):
    """A plugin's durable queue. Register it with ``register_queues``: the host runs
    :meth:`run` on its timers as ``<plugin>.<job>`` every ``interval`` seconds, reports
    :meth:`pending` as the queue's depth, and calls :meth:`stop` at shutdown. ``handler(claim)``
    does one item's work and returns its :class:`Outcome`; an exception counts as a retry."""

    def __init__(
        self,
        database: Database,
        name: str,
        handler: Handler,
        *tables: Table,
        interval: float,
        lease: float,
        concurrency: int = 1,
        max_attempts: int | None = None,
        backoff: Backoff = Backoff(),
        job: str | None = None,
    ) -> None:
        super().__init__(name, self.pending)
        if not tables:
            raise ValueError(f"queue {name}: no table")
        if max_attempts is not None and any(t.state is None for t in tables):
            raise ValueError(f"queue {name}: a table without a state column has no dead letters")
        if interval <= 0 or lease <= 0 or concurrency < 1:
            raise ValueError(f"queue {name}: interval, lease and concurrency must be positive")
        self.database = database
        self.handler = handler
        self.tables = {t.name: t for t in tables}
        self.interval = interval
        self.lease = lease
        self.concurrency = concurrency
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.job = job or name
        self.owner = f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"
        self._claims = itertools.count(1)
        self._running: dict[tuple[str, Any], _Running] = {}
        self._keeper: asyncio.Task[None] | None = None
        self._stopping = False

    # -- the plugin's side ---------------------------------------------------------------
    def _table(self, table: str | None) -> Table:
        if table is None:
            if len(self.tables) > 1:
                raise ValueError(f"queue {self.name}: name the table")
            return next(iter(self.tables.values()))
        return self.tables[table]

    def enqueue(
        self,
        db: Any,
        values: Mapping[str, Any],
        *,
        due: float | None = None,
        table: str | None = None,
    ) -> None:
        """Insert an item (its row's own columns in ``values``); call it inside the plugin's
        write transaction that makes the work, so both commit or neither does."""
        t = self._table(table)
        row = {**values, t.due: time.time() if due is None else due}
        if t.state:
            row[t.state] = PENDING
        names = ", ".join(_identifier(k, f"queue {self.name}") for k in row)
        db.execute(
            f"INSERT INTO {t.name} ({names}) VALUES ({', '.join('?' * len(row))})",
            list(row.values()),
        )

    def enqueue_claimed(
        self, db: Any, values: Mapping[str, Any], *, table: str | None = None
    ) -> Claim:
        """:meth:`enqueue` an item already leased to this worker, for work the caller starts at
        once with :meth:`work` (a request that waits for its own item); no other worker takes it
        while the lease holds, and if this process dies it is due when the lease runs out."""
        t = self._table(table)
        now = time.time()
        token = f"{self.owner}:{next(self._claims)}"
        self.enqueue(
            db, {**values, t.lease_until: now + self.lease, t.lease_owner: token}, table=t.name
        )
        return Claim(self.name, t.name, values[t.key], 0, token, now)

    def work(self, claim: Claim) -> asyncio.Task[None]:
        """Run the handler on a claim this worker holds, as :meth:`start_due` does (its lease
        kept while it runs, its outcome settled); the task ends once it is settled."""
        loop = asyncio.get_running_loop()
        task = loop.create_task(self._work(claim), name=f"queue:{self.name}:{claim.key}")
        key = (claim.table, claim.key)
        self._running[key] = _Running(claim, task)
        task.add_done_callback(partial(self._finished, key))
        if self._keeper is None or self._keeper.done():
            self._keeper = loop.create_task(self._keep_leases(), name=f"queue:{self.name}:leases")
        return task

    def redeliver(
        self,
        db: Any,
        key: Any,
        values: Mapping[str, Any] | None = None,
        *,
        table: str | None = None,
    ) -> bool:
        """Make a dead (or done) item pending again, due now, attempts reset; ``values`` update
        its row too. False if there is no such item or it is still pending."""
        t = self._table(table)
        if t.state is None:
            raise ValueError(f"queue {self.name}: table {t.name} keeps no state to redeliver")
        sets = {
            t.state: PENDING,
            t.attempts: 0,
            t.due: time.time(),
            t.lease_until: None,
            t.lease_owner: None,
            **({t.dead_at: None} if t.dead_at else {}),
            **(values or {}),
        }
        cursor = db.execute(
            f"UPDATE {t.name} SET {self._assignments(sets)} WHERE {t.key} = ?"
            f" AND {t.state} != '{PENDING}'",
            [*sets.values(), key],
        )
        return bool(cursor.rowcount)

    def pending(self) -> int:
        """The depth: items due now, in flight, or waiting to retry a failed attempt (an item
        scheduled for later that has not failed is not work yet)."""
        now = time.time()
        total = 0
        for t in self.tables.values():
            row = self.database.execute(
                f"SELECT count(*) FROM {t.name} WHERE {t.waiting} AND ({t.due} <= ?"
                f" OR {t.lease_until} IS NOT NULL OR {t.attempts} > 0)",
                (now,),
            ).fetchone()
            total += int(row[0])
        return total

    def dead(self) -> int:
        """Dead letters: items that failed for good and wait for :meth:`redeliver`."""
        total = 0
        for t in self.tables.values():
            if t.state is None:  # a table of schedules has none
                continue
            where = f" AND ({t.where})" if t.where else ""
            row = self.database.execute(
                f"SELECT count(*) FROM {t.name} WHERE {t.state} = '{DEAD}'{where}"
            ).fetchone()
            total += int(row[0])
        return total

    # -- the worker's side ---------------------------------------------------------------
    def claim(self, limit: int) -> list[Claim]:
        """Lease up to ``limit`` due items that no live lease holds, table by table in order,
        earliest due first; items this worker is running are left alone."""
        claims: list[Claim] = []
        for t in self.tables.values():
            room = limit - len(claims)
            if room <= 0:
                break
            now = time.time()
            free = (
                f"{t.waiting} AND {t.due} <= ? AND ({t.lease_until} IS NULL OR {t.lease_until} < ?)"
            )
            if (
                self.database.execute(
                    f"SELECT 1 FROM {t.name} WHERE {free} LIMIT 1", (now, now)
                ).fetchone()
                is None
            ):
                continue  # the usual case: no write lock taken
            token = f"{self.owner}:{next(self._claims)}"
            mine = orjson.dumps([k for name, k in self._running if name == t.name]).decode()
            with self.database.write() as db:
                rows = db.execute(
                    f"UPDATE {t.name} SET {t.lease_until} = ?, {t.lease_owner} = ?"
                    f" WHERE {t.key} IN (SELECT {t.key} FROM {t.name} WHERE {free}"
                    f" AND CAST({t.key} AS TEXT) NOT IN (SELECT value FROM json_each(?))"
                    f" ORDER BY {t.due}, {t.key} LIMIT ?)"
                    f" RETURNING {t.key}, {t.attempts}, {t.due}",
                    (now + self.lease, token, now, now, mine, room),
                ).fetchall()
            for key, attempts, _due in sorted(rows, key=lambda r: r[2]):
                claims.append(Claim(self.name, t.name, key, attempts, token, now))
        return claims

    def settle(self, claim: Claim, outcome: Outcome) -> bool:
        """Apply ``outcome`` if the claim's lease still holds (not expired, not taken over);
        False, and nothing written, if it does not."""
        t = self.tables[claim.table]
        now = time.time()
        sets: dict[str, Any] = {t.lease_until: None, t.lease_owner: None}
        kind = outcome.kind
        attempts = claim.attempts + 1
        if kind == "retry" and self.max_attempts is not None and attempts >= self.max_attempts:
            kind = "dead"
        if kind in ("done", "dead") and t.state is None:
            raise ValueError(
                f"queue {self.name}: table {t.name} is a schedule: settle with later()"
            )
        if kind == "later":
            assert outcome.at is not None
            sets.update({t.due: outcome.at, t.attempts: 0})
        else:
            sets[t.attempts] = attempts
            if t.error:
                sets[t.error] = outcome.error
        if kind == "retry":
            sets[t.due] = now + self.backoff.delay(attempts, outcome.retry_after)
        elif kind == "dead":
            assert t.state is not None
            sets[t.state] = DEAD
            if t.dead_at:
                sets[t.dead_at] = now
        elif kind == "done":
            assert t.state is not None
            sets[t.state] = t.done
        sets.update(outcome.values)
        fence = f"{t.key} = ? AND {t.lease_owner} = ? AND {t.lease_until} >= ?"
        with self.database.write() as db:
            if kind == "done" and t.done is None:
                cursor = db.execute(
                    f"DELETE FROM {t.name} WHERE {fence}", (claim.key, claim.token, now)
                )
            else:
                cursor = db.execute(
                    f"UPDATE {t.name} SET {self._assignments(sets)} WHERE {fence}",
                    [*sets.values(), claim.key, claim.token, now],
                )
            if cursor.rowcount == 0:
                return False
            if outcome.write is not None:
                outcome.write(db)
        if outcome.error:
            log.info(
                "queue %s: %s %s: attempt %d: %s",
                self.name,
                t.name,
                claim.key,
                attempts,
                outcome.error,
            )
        return True

    def release(self, claims: list[Claim]) -> None:
        """Give leases back without counting an attempt: the items are due again at once."""
        if not claims:
            return
        with self.database.write() as db:
            for c in claims:
                t = self.tables[c.table]
                db.execute(
                    f"UPDATE {t.name} SET {t.lease_until} = NULL, {t.lease_owner} = NULL"
                    f" WHERE {t.key} = ? AND {t.lease_owner} = ?",
                    (c.key, c.token),
                )

    async def run(self) -> None:
        """The consumer job the host runs every ``interval`` seconds."""
        self.start_due()

    def start_due(self) -> int:
        """Claim as many due items as there are free slots and work each in a task of its own,
        so one slow item never holds up the others. Returns how many it started; call it on the
        event loop."""
        if self._stopping:
            return 0
        free = self.concurrency - len(self._running)
        if free <= 0:
            return 0
        claims = self.claim(free)
        for claim in claims:
            self.work(claim)
        return len(claims)

    def _finished(self, key: tuple[str, Any], _task: asyncio.Task[None]) -> None:
        self._running.pop(key, None)

    async def _keep_leases(self) -> None:
        """While items run, extend their leases every quarter lease, whatever the job's
        interval: a lease runs out only when this process stops working (killed, frozen)."""
        while self._running:
            await asyncio.sleep(self.lease * RENEW_EVERY)
            try:
                self._renew()
            except Exception as exc:  # the database locked past its busy timeout, or away
                log_failure(log, exc, "queue %s: renewing leases failed", self.name)

    def _renew(self) -> None:
        """A lease that expired or was taken over is lost: its work is cancelled, as its result
        could not be settled."""
        now = time.time()
        with self.database.write() as db:
            for running in list(self._running.values()):
                if running.settled or running.task.done():
                    continue
                t = self.tables[running.claim.table]
                kept = db.execute(
                    f"UPDATE {t.name} SET {t.lease_until} = ? WHERE {t.key} = ?"
                    f" AND {t.lease_owner} = ? AND {t.lease_until} >= ?",
                    (now + self.lease, running.claim.key, running.claim.token, now),
                ).rowcount
                if not kept:
                    log.warning(
                        "queue %s: lost the lease of %s %s", self.name, t.name, running.claim.key
                    )
                    running.task.cancel()

    async def _work(self, claim: Claim) -> None:
        try:
            outcome = await self.handler(claim)
        except Exception as exc:
            log_failure(log, exc, "queue %s: %s %s failed", self.name, claim.table, claim.key)
            outcome = retry(f"{type(exc).__name__}: {exc}")
        running = self._running.get((claim.table, claim.key))
        if running is not None and running.claim is claim:
            # settled now, or its lease lapses: from here on there is no lease to renew, and
            # its ``then()`` must not be taken for work whose lease was lost
            running.settled = True
        try:
            settled = self.settle(claim, outcome)
        except Exception as exc:  # the plugin's write failed: count a failed attempt instead
            log_failure(
                log, exc, "queue %s: settling %s %s failed", self.name, claim.table, claim.key
            )
            with contextlib.suppress(Exception):  # the database itself failing: the lease lapses
                self.settle(claim, retry(f"{type(exc).__name__}: {exc}"))
            return
        if settled and outcome.then is not None:
            try:
                result = outcome.then()
                if inspect.isawaitable(result):
                    await result
            except Exception:
                log.exception("queue %s: after %s %s", self.name, claim.table, claim.key)

    async def stop(self) -> None:
        """At shutdown: cancel the work in flight and give its leases back, so another process
        (or the next start) takes the items at once instead of after the lease."""
        self._stopping = True
        running = list(self._running.values())
        tasks = [r.task for r in running] + ([self._keeper] if self._keeper else [])
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            self.release([r.claim for r in running])
        except Exception as exc:  # the database away: the leases lapse instead
            log_failure(log, exc, "queue %s: giving leases back failed", self.name)

    @staticmethod
    def _assignments(values: Mapping[str, Any]) -> str:
        return ", ".join(f"{_identifier(k, 'queue column')} = ?" for k in values)

"""Named leases in the hub's database, so that what must run once runs in one process at a time
(periodic jobs, upstream pollers) whichever worker, or on PostgreSQL whichever hub of the
cluster, that is: a lease has a holder, an expiry and a fence that grows at every change of
holder. A holder that dies is replaced once its lease runs out; a holder that was frozen learns
at its next renewal that it lost the lease.

Expiries are wall-clock times (``time.time``), read under the database's write lock, so the
processes of several machines compare them: their clocks must agree (NTP) to well within half
the shortest interval leased, or a fast clock takes a lease early."""

from __future__ import annotations

import os
import secrets
import socket
import time
from collections.abc import Callable

from hub.storage import Database


def m001_leases(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS leases (name TEXT PRIMARY KEY, holder TEXT NOT NULL,"
        " until REAL NOT NULL, fence INTEGER NOT NULL)"
    )


def process_name() -> str:
    """Who holds a lease: this host, this process, and a random part (a pid is reused)."""
    return f"{socket.gethostname()}:{os.getpid()}:{secrets.token_hex(4)}"


class Leases:
    def __init__(
        self, database: Database, holder: str | None = None, clock: Callable[[], float] = time.time
    ) -> None:
        self.database = database
        self.holder = holder or process_name()
        self.clock = clock

    def acquire(self, name: str, ttl: float) -> int | None:
        """Hold (or keep holding) ``name`` for ``ttl`` seconds from now: its fence, or None
        while another holder's lease runs. The clock is read after the write lock is taken."""
        with self.database.write() as db:
            now = self.clock()
            row = db.execute(
                "SELECT holder, until, fence FROM leases WHERE name = ?", (name,)
            ).fetchone()
            if row is None:
                fence = 1
                db.execute(
                    "INSERT INTO leases (name, holder, until, fence) VALUES (?, ?, ?, ?)",
                    (name, self.holder, now + ttl, fence),
                )
                return fence
            holder, until, fence = row
            if holder != self.holder:
                if until >= now:
                    return None
                fence += 1  # taken over: whatever the old holder still does is fenced off
            db.execute(
                "UPDATE leases SET holder = ?, until = ?, fence = ? WHERE name = ?",
                (self.holder, now + ttl, fence, name),
            )
            return int(fence)

    def release(self, names: list[str]) -> None:
        """Give up the leases this process holds, so another takes them at once (shutdown)."""
        if not names:
            return
        with self.database.write() as db:
            db.executemany(
                "UPDATE leases SET until = 0 WHERE name = ? AND holder = ?",
                [(name, self.holder) for name in names],
            )

    def holder_of(self, name: str) -> str | None:
        row = self.database.execute(
            "SELECT holder FROM leases WHERE name = ? AND until >= ?", (name, self.clock())
        ).fetchone()
        return str(row[0]) if row else None

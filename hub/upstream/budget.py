"""How many requests the hub may still send a vendor: per source, category and vendor
credential, kept in SQLite so every process of the hub (and every hub on the data directory)
spends one budget. A sliding log, so "1/30s" means at most one request in any 30 seconds; a
vendor's 429 ``Retry-After`` pushes the next slot back. The clock may be set back: a request on
record "in the future" counts as sent now, and a pause holds at most ``held_back_at_most`` from
now, so the budget is not spent for as long as the clock was set back."""

from __future__ import annotations

import time
from collections.abc import Callable

import orjson

from hub.storage import Database
from hub.upstream.settings import Rate

MAX_HELD_BACK = 3600.0  # seconds a vendor's Retry-After may hold a category back at most


def m001_budget(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS upstream_budget ("
        " key TEXT PRIMARY KEY, sent TEXT NOT NULL DEFAULT '[]',"
        " blocked_until REAL NOT NULL DEFAULT 0)"
    )


class Budget:
    def __init__(self, database: Database, clock: Callable[[], float] = time.time) -> None:
        self.database = database
        self.clock = clock

    def take(self, key: str, rate: Rate) -> float:
        """Spend one request of ``key``'s budget and return 0, or return the seconds until one
        is free and spend nothing. The clock is read after the write lock is taken, so two
        processes never both see the same free slot. What is written back is the log as
        ``_state`` reads it, times "in the future" (the clock set back) brought to now, so
        they count from now once, not from every later now."""
        with self.database.write() as db:
            now = self.clock()
            wait, sent = self._state(db, key, rate, now)
            if wait == 0:
                sent.append(now)
            db.execute(
                "INSERT INTO upstream_budget (key, sent) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET sent = excluded.sent,"
                " blocked_until = min(upstream_budget.blocked_until, ?)",
                (key, orjson.dumps(sent).decode(), now + held_back_at_most(rate)),
            )
        return wait

    def next_slot(self, key: str, rate: Rate) -> float:
        """Seconds until ``take`` would succeed (0: now); spends nothing."""
        return self._state(self.database, key, rate, self.clock())[0]

    def last_sent(self, key: str) -> float | None:
        """When the latest request of ``key`` on record went out (None: none is)."""
        row = self.database.execute(
            "SELECT sent FROM upstream_budget WHERE key = ?", (key,)
        ).fetchone()
        sent = orjson.loads(row[0]) if row is not None else []
        return max(sent, default=None)

    def push_back(self, key: str, seconds: float) -> None:
        """The vendor said "not before ``seconds`` from now" (a 429's ``Retry-After``)."""
        with self.database.write() as db:
            until = self.clock() + max(0.0, seconds)
            db.execute(
                "INSERT INTO upstream_budget (key, blocked_until) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET"
                " blocked_until = max(upstream_budget.blocked_until, excluded.blocked_until)",
                (key, until),
            )

    @staticmethod
    def _state(db, key: str, rate: Rate, now: float) -> tuple[float, list[float]]:  # type: ignore[no-untyped-def]
        row = db.execute(
            "SELECT sent, blocked_until FROM upstream_budget WHERE key = ?", (key,)
        ).fetchone()
        if row is None:
            return 0.0, []
        sent = sorted(min(t, now) for t in orjson.loads(row[0]) if t > now - rate.window)
        wait = min(max(0.0, row[1] - now), held_back_at_most(rate))
        if len(sent) >= rate.limit:
            wait = max(wait, sent[-rate.limit] + rate.window - now)
        return wait, sent


def held_back_at_most(rate: Rate) -> float:
    """The longest a vendor's 429 may hold a category back: the pause is kept in the shared
    database across restarts, and a vendor's nonsense (``inf``, a date in the year 9999) must
    not stop the hub asking it for good."""
    return max(MAX_HELD_BACK, rate.window)

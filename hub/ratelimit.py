"""Per-key rate limits whose state lives in the database, so every worker and every hub on it
shares them.

"``limit`` per ``window``" is exact: a key's window opens with its first allowed request, takes
``limit`` requests, refuses the rest until ``window`` seconds after it opened, then the next
request opens a new one. However slow or fast the requests come, and through however many
hubs, no window lets more than ``limit`` through. A refused request changes nothing, so it does
not use up the window.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from hub.storage import Database, Migration

DATABASE = "_ratelimits"  # <data-dir>/_ratelimits.db; no plugin name starts with "_"


def m001_rate_limits(db) -> None:  # type: ignore[no-untyped-def]
    db.execute("CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY, tat REAL NOT NULL)")


def m002_rate_windows(db) -> None:  # type: ignore[no-untyped-def]
    """Fixed windows replace GCRA's arrival times (which let one more through every
    ``window / limit`` seconds, so a slow burst got more than ``limit``)."""
    db.execute("DROP TABLE IF EXISTS rate_limits")
    db.execute(
        "CREATE TABLE rate_windows (key TEXT PRIMARY KEY, opened REAL NOT NULL,"
        " hits INTEGER NOT NULL)"
    )


MIGRATIONS: list[Migration] = [m001_rate_limits, m002_rate_windows]


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds, at least 1 when refused


class RateLimiter:
    def __init__(self, database: Database, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.database = database
        self.clock = clock

    def hit(self, key: str, limit: int, window: float) -> Decision:
        with self.database.write() as db:
            now = self.clock()  # read under the writer's lock: hits are ordered by it
            row = db.execute(
                "SELECT opened, hits FROM rate_windows WHERE key = ?", (key,)
            ).fetchone()
            opened, hits = (row[0], row[1]) if row and now < row[0] + window else (now, 0)
            if hits >= limit:
                return Decision(False, max(1, math.ceil(opened + window - now)))
            db.execute(
                "INSERT INTO rate_windows (key, opened, hits) VALUES (?, ?, ?)"
                " ON CONFLICT(key) DO UPDATE SET opened = excluded.opened, hits = excluded.hits",
                (key, opened, hits + 1),
            )
        return Decision(True, 0)

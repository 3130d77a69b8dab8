"""Per-key rate limits whose state lives in SQLite, so every worker process shares them.

GCRA (the generic cell-rate algorithm): one number per key, the theoretical arrival time.
``limit`` requests per ``window`` seconds may arrive at once; after that one more each
``window / limit`` seconds. A rejected request changes nothing, so it does not use up the window.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass

from hub.storage import Database

DATABASE = "_ratelimits"  # <data-dir>/_ratelimits.db; no plugin name starts with "_"


def m001_rate_limits(db) -> None:  # type: ignore[no-untyped-def]
    db.execute("CREATE TABLE IF NOT EXISTS rate_limits (key TEXT PRIMARY KEY, tat REAL NOT NULL)")


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int  # whole seconds, at least 1 when refused


class RateLimiter:
    def __init__(self, database: Database, clock=time.time) -> None:  # type: ignore[no-untyped-def]
        self.database = database
        self.clock = clock

    def hit(self, key: str, limit: int, window: float) -> Decision:
        interval = window / limit
        with self.database.write() as db:
            now = self.clock()
            row = db.execute("SELECT tat FROM rate_limits WHERE key = ?", (key,)).fetchone()
            tat = max(row[0] if row else now, now)
            allow_at = tat + interval - window
            if allow_at > now:
                return Decision(False, max(1, math.ceil(allow_at - now)))
            db.execute(
                "INSERT INTO rate_limits (key, tat) VALUES (?, ?)"
                " ON CONFLICT(key) DO UPDATE SET tat = excluded.tat",
                (key, tat + interval),
            )
        return Decision(True, 0)

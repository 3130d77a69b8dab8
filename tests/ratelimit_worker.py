"""A worker process for tests/test_host.py: its own connection to a shared rate-limit file.
Kept apart from the test module so a spawned process imports only what it needs."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from hub.ratelimit import MIGRATIONS, RateLimiter
from hub.storage import SQLiteDatabase as Database


def limiter(path: Path, clock: Any = None) -> RateLimiter:
    database = Database(path)
    database.migrate("hub", MIGRATIONS)
    return RateLimiter(database) if clock is None else RateLimiter(database, clock=clock)


def hammer(path: str, attempts: int, limit: int, barrier: Any, results: Any) -> None:
    """Hit one key ``attempts`` times once every worker is ready, pausing a little between hits
    as requests do (in a tight loop one process can starve the others of SQLite's lock);
    report how many got through."""
    shared = limiter(Path(path))
    barrier.wait()
    allowed = 0
    for _ in range(attempts):
        allowed += shared.hit("shared", limit, 3600).allowed
        time.sleep(0.002)
    results.put(allowed)

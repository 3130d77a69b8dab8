"""Timer statistics of every worker of a multi-worker hub (of every hub of a cluster on
PostgreSQL) in the shared database, so that webim's ``timer-stats`` and ``/metrics`` report the
whole hub whichever worker answers: one row per timer and worker with its totals, plus the
executions of the last minute and the last failures."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import Any

from hub.storage import Database

FAILURES_KEPT = 100
WINDOW = 60.0


def m001_timer_stats(db) -> None:  # type: ignore[no-untyped-def]
    db.execute(
        "CREATE TABLE IF NOT EXISTS timer_stats (key TEXT NOT NULL, worker TEXT NOT NULL,"
        " runs INTEGER NOT NULL DEFAULT 0, failures INTEGER NOT NULL DEFAULT 0,"
        " running INTEGER NOT NULL DEFAULT 0, last_started REAL, last_duration REAL,"
        " total_duration REAL NOT NULL DEFAULT 0, last_error TEXT, PRIMARY KEY (key, worker))"
    )
    db.execute(
        "CREATE TABLE IF NOT EXISTS timer_runs (key TEXT NOT NULL, started REAL NOT NULL,"
        " duration REAL NOT NULL, error TEXT)"
    )
    db.execute("CREATE INDEX IF NOT EXISTS timer_runs_key ON timer_runs (key, started)")


class TimerStore:
    """Where the workers of one hub start (``clear``, by the supervisor) and record runs."""

    def __init__(self, database: Database, worker: str) -> None:
        self.database = database
        self.worker = worker

    def clear(self) -> None:
        """A new start of the hub: the previous start's figures are not this one's."""
        with self.database.write() as db:
            db.execute("DELETE FROM timer_stats")
            db.execute("DELETE FROM timer_runs")

    def idle(self) -> None:
        """This process starting: a run its previous start was killed in is not running."""
        with self.database.write() as db:
            db.execute("UPDATE timer_stats SET running = 0 WHERE worker = ?", (self.worker,))

    def started(self, key: str, at: float) -> None:
        with self.database.write() as db:
            db.execute(
                "INSERT INTO timer_stats (key, worker, running, last_started) VALUES (?, ?, 1, ?)"
                " ON CONFLICT(key, worker) DO UPDATE SET running = 1, last_started = ?",
                (key, self.worker, at, at),
            )

    def finished(self, key: str, started: float, duration: float, error: str | None) -> None:
        with self.database.write() as db:
            db.execute(
                "UPDATE timer_stats SET running = 0, runs = runs + 1,"
                " failures = failures + ?, last_duration = ?, total_duration = total_duration + ?,"
                " last_error = coalesce(?, last_error) WHERE key = ? AND worker = ?",
                (int(error is not None), duration, duration, error, key, self.worker),
            )
            db.execute(
                "INSERT INTO timer_runs (key, started, duration, error) VALUES (?, ?, ?, ?)",
                (key, started, duration, error),
            )
            db.execute(
                "DELETE FROM timer_runs WHERE key = ? AND error IS NULL AND started < ?",
                (key, time.time() - WINDOW),
            )
            db.execute(
                "DELETE FROM timer_runs WHERE key = ? AND error IS NOT NULL AND started NOT IN"
                " (SELECT started FROM timer_runs WHERE key = ? AND error IS NOT NULL"
                " ORDER BY started DESC LIMIT ?)",
                (key, key, FAILURES_KEPT),
            )

    def totals(self, keys: Iterable[str]) -> dict[str, dict[str, Any]]:
        """Per timer: runs, failures, running, last_started, last_duration, total_duration,
        last_error (of the most recent run that failed), recent and failed runs."""
        out: dict[str, dict[str, Any]] = {}
        cutoff = time.time() - WINDOW
        for key in keys:
            rows = self.database.execute(
                "SELECT runs, failures, running, last_started, last_duration, total_duration,"
                " last_error FROM timer_stats WHERE key = ? ORDER BY last_started",
                (key,),
            ).fetchall()
            runs = self.database.execute(
                "SELECT started, duration, error FROM timer_runs WHERE key = ? ORDER BY started",
                (key,),
            ).fetchall()
            latest = rows[-1] if rows else None
            out[key] = {
                "runs": sum(r[0] for r in rows),
                "failures": sum(r[1] for r in rows),
                "running": any(r[2] for r in rows),
                "last_started": latest[3] if latest else None,
                "last_duration": latest[4] if latest else None,
                "total_duration": sum(r[5] for r in rows),
                "last_error": next((r[6] for r in reversed(rows) if r[6]), None),
                "recent": [(s, d) for s, d, _ in runs if s >= cutoff],
                "failed": [(s, d, e) for s, d, e in runs if e is not None],
            }
        return out

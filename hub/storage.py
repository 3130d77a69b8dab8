"""SQLite through sqlite-utils: one file per plugin, WAL, a busy timeout, ``BEGIN IMMEDIATE``
writes and migrations recorded by name."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import sqlite_utils

from hub.errors import StartupError

Migration = Callable[[sqlite_utils.Database], None]

BUSY_TIMEOUT_MS = 5000
# what SQLite writes beside a database; it gives them the database file's mode when it makes them
SIDE_FILES = ("-wal", "-shm", "-journal")


def private_directory(path: Path) -> None:
    """Make ``path`` (and missing parents) with mode 0700, and take group and other access away
    from one made by an older version: the files inside hold webhook secrets and credentials."""
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.stat().st_mode & 0o077:
        path.chmod(0o700)


def private_file(path: Path) -> None:
    """Create ``path`` with mode 0600 if it is missing, or make it 0600."""
    os.close(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600))
    if path.stat().st_mode & 0o077:
        path.chmod(0o600)


def _wal(conn: sqlite3.Connection, path: Path) -> None:
    """WAL mode. Switching a new file to it takes a lock that SQLite does not wait for, so two
    processes opening a fresh data directory at once (``hub serve`` and ``hub creds add``)
    would see "database is locked": retried for the busy timeout, then one line naming it."""
    deadline = time.monotonic() + BUSY_TIMEOUT_MS / 1000
    while True:
        try:
            conn.execute("PRAGMA journal_mode = WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                conn.close()
                raise StartupError(f"{path}: {exc}") from None
            time.sleep(0.05)


class Database:
    """A plugin's SQLite file. Reads run on the caller's thread; every write goes through
    :meth:`write` so that it takes the write lock up front instead of failing half-way."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        private_file(self.path)  # before SQLite creates it (and its -wal, -shm) world-readable
        for suffix in SIDE_FILES:
            side = self.path.with_name(self.path.name + suffix)
            if side.exists():
                private_file(side)
        conn = sqlite3.connect(
            str(self.path),
            isolation_level=None,
            check_same_thread=False,
            timeout=BUSY_TIMEOUT_MS / 1000,
        )
        conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
        _wal(conn, self.path)
        conn.execute("PRAGMA synchronous = NORMAL")
        conn.execute("PRAGMA foreign_keys = ON")
        self.conn = conn
        self.db = sqlite_utils.Database(conn)
        self._depth = 0

    @contextlib.contextmanager
    def write(self) -> Iterator[sqlite_utils.Database]:
        """A ``BEGIN IMMEDIATE`` transaction: all or nothing, re-entrant (inner blocks join)."""
        if self._depth:
            self._depth += 1
            try:
                yield self.db
            finally:
                self._depth -= 1
            return
        self.conn.execute("BEGIN IMMEDIATE")
        self._depth = 1
        try:
            yield self.db
        except BaseException:
            self._depth = 0
            if self.conn.in_transaction:
                self.conn.execute("ROLLBACK")
            raise
        self._depth = 0
        self.conn.execute("COMMIT")

    def execute(self, sql: str, params: tuple | list | dict = ()) -> sqlite3.Cursor:
        return self.conn.execute(sql, params)

    def migrate(self, plugin: str, migrations: list[Migration]) -> list[str]:
        """Apply the plugin's migrations not yet recorded, each in its own transaction."""
        with self.write() as db:
            db.execute(
                "CREATE TABLE IF NOT EXISTS _hub_migrations ("
                " plugin TEXT NOT NULL, name TEXT NOT NULL, applied_at REAL NOT NULL,"
                " PRIMARY KEY (plugin, name))"
            )
        done = {
            row[0]
            for row in self.execute("SELECT name FROM _hub_migrations WHERE plugin = ?", (plugin,))
        }
        applied = []
        for migration in migrations:
            if migration.__name__ in done:
                continue
            with self.write() as db:
                migration(db)
                db.execute(
                    "INSERT INTO _hub_migrations (plugin, name, applied_at) VALUES (?, ?, ?)",
                    (plugin, migration.__name__, time.time()),
                )
            applied.append(migration.__name__)
        return applied

    def close(self) -> None:
        self.conn.close()

"""SQLite, the embedded default: one file per plugin in the data directory, WAL, a busy timeout,
``BEGIN IMMEDIATE`` writes. sqlite-utils reads the file's own catalogue for ``hub db copy``."""

from __future__ import annotations

import contextlib
import os
import sqlite3
import time
from collections.abc import Iterable, Iterator
from contextlib import closing
from pathlib import Path
from urllib.parse import quote

import sqlite_utils

from hub.errors import StartupError
from hub.storage.base import (
    Cursor,
    Database,
    IntegrityError,
    MissingTable,
    Params,
    StorageError,
    UnstorableValue,
    busy,
)
from hub.storage.walindex import WalIndex

BUSY_TIMEOUT_MS = 5000
BUSY_CODES = (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED)  # primary result codes
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


def _identity(path: Path) -> tuple[int, int] | None:
    try:
        stat = path.stat()
    except OSError:
        return None
    return stat.st_dev, stat.st_ino


NUL_TEXT = "text with a NUL character (PostgreSQL cannot hold one: neither engine takes it)"


def _holds_nul(params: Params) -> bool:
    """Whether a text parameter holds NUL: refused as PostgreSQL refuses it, so a plugin's data
    is the same on both engines and a SQLite directory always copies to PostgreSQL. (Every
    statement passes here: a plain loop, and ``isinstance`` of ``dict``, not of ``Mapping``.)"""
    values = params.values() if isinstance(params, dict) else params
    for value in values:  # noqa: SIM110 - any() of a generator costs twice this loop
        if type(value) is str and "\x00" in value:
            return True
    return False


def _translated(exc: sqlite3.Error, where: str) -> StorageError:
    if isinstance(exc, sqlite3.IntegrityError):
        return IntegrityError(str(exc))
    if getattr(exc, "sqlite_errorcode", 0) & 0xFF in BUSY_CODES:  # past the busy timeout
        return busy(where, str(exc))
    if str(exc).startswith("no such table"):
        return MissingTable(str(exc))
    return StorageError(str(exc))


class SQLiteDatabase(Database):
    """A plugin's SQLite file. Reads run on the caller's thread; :meth:`write` is
    ``BEGIN IMMEDIATE``, which takes the file's one write lock up front."""

    engine = "sqlite"

    def __init__(self, path: Path | str, conn: sqlite3.Connection | None = None) -> None:
        """Open (creating) the file at ``path``; or use ``conn``, already open on it."""
        self.path = Path(path)
        super().__init__(self.path.stem)
        self._wal_index = WalIndex(self.path)
        if conn is not None:
            self.conn = conn
            self._identity = _identity(self.path)
            return
        private_file(self.path)  # before SQLite creates it (and its -wal, -shm) world-readable
        for suffix in SIDE_FILES:
            side = self.path.with_name(self.path.name + suffix)
            # another connection may remove it at any moment (its last close does): never made
            with contextlib.suppress(FileNotFoundError):
                if side.stat().st_mode & 0o077:
                    side.chmod(0o600)
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
        self._identity = _identity(self.path)

    @property
    def location(self) -> str:
        return str(self.path)

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        if _holds_nul(params):
            raise UnstorableValue(NUL_TEXT)
        try:
            return self.conn.execute(sql, params)
        except sqlite3.Error as exc:
            raise _translated(exc, str(self.path)) from exc
        except (OverflowError, UnicodeEncodeError) as exc:  # past 64 bits, or not UTF-8 text
            raise UnstorableValue(str(exc)) from exc

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        rows = list(rows)
        if any(_holds_nul(row) for row in rows):
            raise UnstorableValue(NUL_TEXT)
        try:
            self.conn.executemany(sql, rows)
        except sqlite3.Error as exc:
            raise _translated(exc, str(self.path)) from exc
        except (OverflowError, UnicodeEncodeError) as exc:
            raise UnstorableValue(str(exc)) from exc

    def data_version(self) -> int:
        return int(self.conn.execute("PRAGMA data_version").fetchone()[0])

    def commit_marker(self) -> bytes | None:
        """The wal-index header (:mod:`hub.storage.walindex`), read without a transaction."""
        return self._wal_index.header()

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Database]:
        """A new read-write connection to the file the hub opened (SQLite only opens it: closing
        any other descriptor on it would drop the process's POSIX locks)."""
        if _identity(self.path) != self._identity:
            raise StorageError(f"{self.path}: the file was removed or replaced")
        uri = f"file:{quote(str(self.path.resolve()))}?mode=rw"
        try:
            conn = sqlite3.connect(uri, uri=True, timeout=1, isolation_level=None)
        except sqlite3.Error as exc:
            raise _translated(exc, str(self.path)) from exc
        with closing(conn):
            yield SQLiteDatabase(self.path, conn)

    def _begin(self) -> None:
        self.execute("BEGIN IMMEDIATE")

    def _commit(self) -> None:
        try:
            self.execute("COMMIT")
        except StorageError:
            # refused (a deferred constraint, a full disk), the transaction stays open and
            # keeps the file's write lock: every writer, in every process, would be refused
            self._rollback()
            raise

    def _rollback(self) -> None:
        if self.conn.in_transaction:
            self.conn.execute("ROLLBACK")

    def tables(self) -> list[str]:
        return [t for t in sqlite_utils.Database(self.conn).table_names() if t != "sqlite_sequence"]

    def columns(self, table: str) -> list[str]:
        return [c.name for c in sqlite_utils.Database(self.conn)[table].columns]

    def close(self) -> None:
        self._wal_index.close()
        self.conn.close()

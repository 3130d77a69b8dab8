"""What every engine gives a plugin: one query text for both, ``write()`` transactions that
serialise writers the way SQLite does, migrations recorded by name, and driver errors turned
into the host's own."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from hub.errors import HubError

log = logging.getLogger("hub.storage")

Params = Sequence[Any] | dict[str, Any]


class Cursor(Protocol):
    """What both drivers' cursors give: rows as tuples."""

    @property
    def rowcount(self) -> int: ...

    def fetchone(self) -> Any: ...

    def fetchall(self) -> list[Any]: ...

    def __iter__(self) -> Iterator[Any]: ...


class StorageError(Exception):
    """A query failed in the engine (a missing table, a bad statement): the driver's message,
    whichever engine runs."""


class IntegrityError(StorageError):
    """A constraint refused the write (a duplicate unique key, a missing foreign row)."""


class MissingTable(StorageError):
    """A table the query names is not there (dropped under the hub)."""


class DatabaseUnavailable(HubError):
    """The engine cannot be reached (PostgreSQL restarting, the network down): every protocol
    answers 503 in the plugin's shape, and the next request tries again."""

    def __init__(self, where: str, detail: str) -> None:
        # clients are told that it is down; where and why (a host, a port) is for the operator
        super().__init__(503, "the database is unavailable", reason="database_unavailable")
        self.retry_after = 1
        self.where = where
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.where}: {self.detail}"


class DatabaseBusy(StorageError, HubError):
    """Another writer held the plugin's write lock past the busy timeout (another process
    mid-transaction: a second hub, ``hub db copy``, an operator's shell): every protocol
    answers 503 in the plugin's shape with ``Retry-After``, as for an outage. Still a
    :class:`StorageError`, so a plugin that handles storage failures its own way still does."""

    def __init__(self, where: str, detail: str) -> None:
        HubError.__init__(
            self,
            503,
            "the database is locked by another writer; try again",
            reason="database_busy",
            retry_after=1,
        )
        self.where = where
        self.detail = detail

    def __str__(self) -> str:
        return f"{self.where}: locked by another writer past the busy timeout ({self.detail})"


def busy(where: str, detail: str) -> DatabaseBusy:
    """The engines' one way to report a busy writer's lock: the error, and one warning line
    for the operator (the request gets no more than "locked")."""
    error = DatabaseBusy(where, detail)
    log.warning("%s; answered 503 (database_busy)", error)
    return error


class UnstorableValue(HubError):
    """A value the engine cannot store or compare (PostgreSQL: a NUL character in text, an
    integer past 64 bits): the request's input, answered 400 in the plugin's shape."""

    def __init__(self, detail: str) -> None:
        super().__init__(400, f"a value cannot be stored: {detail}", reason="unstorable_value")


Migration = Callable[["Database"], None]


class MigrationFailed(Exception):
    """A migration raised: its name and what it raised (the ones before it stay applied)."""


class Database:
    """One plugin's state: a SQLite file, or a schema in PostgreSQL. Queries are written once in
    SQLite's dialect with ``?`` parameters (docs/plugin-authoring.md lists what PostgreSQL is
    given in its place). Reads run at once; every write goes through :meth:`write`, which takes
    the writer's lock up front, so a read-modify-write inside it sees no other writer."""

    engine = ""

    def __init__(self, name: str) -> None:
        self.name = name
        self._depth = 0

    # -- what engines implement -----------------------------------------------------------
    def execute(self, sql: str, params: Params = ()) -> Cursor:
        raise NotImplementedError

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        raise NotImplementedError

    def data_version(self) -> int:
        """A number that moves whenever another process commits a write here, for caches."""
        raise NotImplementedError

    def commit_marker(self) -> bytes | None:
        """Without a query, a value that changes with every commit here (by any connection):
        equal to one taken before, nothing was committed since. ``None`` when the engine offers
        none now; then :meth:`data_version` tells."""
        return None

    def check(self) -> None:
        """Reach the engine on a new connection and read from it; raise if that fails."""
        with self.fresh() as fresh:
            fresh.tables()

    def fresh(self) -> contextlib.AbstractContextManager[Database]:
        """The same state on a new connection, closed at the end of the block, for probes that
        must not trust a long-lived one: it never creates the store, and raises
        :class:`StorageError` when the store was removed or replaced under the hub."""
        raise NotImplementedError

    def close(self) -> None:
        raise NotImplementedError

    @property
    def location(self) -> str:
        """Where the state is, for messages: a path, or the server and schema."""
        raise NotImplementedError

    def _begin(self) -> None:
        raise NotImplementedError

    def _commit(self) -> None:
        raise NotImplementedError

    def _rollback(self) -> None:
        raise NotImplementedError

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        yield

    # -- shared -----------------------------------------------------------------------------
    @contextlib.contextmanager
    def write(self) -> Iterator[Database]:
        """One transaction, all or nothing, holding the writer's lock: re-entrant (inner
        blocks join the outer one)."""
        if self._depth:
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1
            return
        self._begin()
        self._depth = 1
        try:
            yield self
        except BaseException:
            self._depth = 0
            self._rollback()
            raise
        self._depth = 0
        self._commit()

    def migrate(self, plugin: str, migrations: list[Migration]) -> list[str]:
        """Apply the plugin's migrations not yet recorded, each in its own transaction; hubs
        starting together on one PostgreSQL take turns, and on SQLite each migration is looked
        up again under the writer's lock (another process may have applied it since), so each
        runs once."""
        with self._migration_lock():
            with self.write() as db:
                db.execute(
                    "CREATE TABLE IF NOT EXISTS _hub_migrations ("
                    " plugin TEXT NOT NULL, name TEXT NOT NULL, applied_at REAL NOT NULL,"
                    " PRIMARY KEY (plugin, name))"
                )
            done = {
                row[0]
                for row in self.execute(
                    "SELECT name FROM _hub_migrations WHERE plugin = ?", (plugin,)
                )
            }
            applied = []
            for migration in migrations:
                if migration.__name__ in done:
                    continue
                with self.write() as db:
                    recorded = db.execute(
                        "SELECT 1 FROM _hub_migrations WHERE plugin = ? AND name = ?",
                        (plugin, migration.__name__),
                    ).fetchone()
                    if recorded is not None:
                        continue  # another process applied it after ``done`` was read
                    try:
                        migration(db)
                    except Exception as exc:  # rolled back; the start names which one failed
                        raise MigrationFailed(f"{migration.__name__}: {exc}") from exc
                    db.execute(
                        "INSERT INTO _hub_migrations (plugin, name, applied_at) VALUES (?, ?, ?)",
                        (plugin, migration.__name__, time.time()),
                    )
                applied.append(migration.__name__)
            return applied

    def tables(self) -> list[str]:
        """The tables here, by name (for ``hub db copy`` and inspection)."""
        raise NotImplementedError

    def columns(self, table: str) -> list[str]:
        raise NotImplementedError

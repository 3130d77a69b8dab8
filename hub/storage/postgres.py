"""PostgreSQL, for several hubs sharing their state: each plugin's tables in a schema of its own
name (``era``, ``hub``, ``_upstream``), one connection per schema and process, queries
rewritten from SQLite's dialect (:mod:`hub.storage.dialect`).

Writers take a transaction-level advisory lock per schema, so a ``write()`` block sees what
SQLite's ``BEGIN IMMEDIATE`` gives: no other writer of that schema, in any hub, until it ends.
A lost connection is a :class:`DatabaseUnavailable` (503) for that request; the next one
reconnects. So is a statement cancelled past ``database_statement_timeout``: every query runs on
the event loop, and none may hold it longer."""

from __future__ import annotations

import contextlib
import hashlib
import logging
import re
import threading
import time
from collections.abc import Iterable, Iterator
from decimal import Decimal
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from hub.config import STATEMENT_TIMEOUT
from hub.errors import StartupError
from hub.storage import dialect
from hub.storage.base import (
    Cursor,
    Database,
    DatabaseUnavailable,
    IntegrityError,
    MissingTable,
    Params,
    StorageError,
    UnstorableValue,
)
from hub.storage.base import busy as storage_busy

log = logging.getLogger("hub.storage")

BUSY_TIMEOUT_MS = 5000  # as SQLite's (hub.storage.sqlite)
CONNECT_TIMEOUT = 3  # seconds; the event loop waits on it, so it is short
RETRY_AFTER_FAILURE = 0.5  # a failed connect is not tried again sooner: requests fail fast
# every connection to PostgreSQL, the data ones and the event bus's (hub.pgbus): a server or
# network path that vanishes without a reset is given up after about 11 s, not the kernel's
# 15 minutes, whether the connection idles or waits for an answer (keepalive probes unanswered
# past tcp_user_timeout) or sends (data unacknowledged for tcp_user_timeout). A live server's
# kernel answers the probes however long a statement runs, so slow statements are not cut.
CONNECT: dict[str, Any] = {
    "connect_timeout": CONNECT_TIMEOUT,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 3,
    "tcp_user_timeout": 10_000,  # milliseconds
}


def _import_psycopg() -> Any:
    try:
        import psycopg
    except ImportError:
        raise StartupError(
            "database_url: PostgreSQL needs psycopg: pip install 'hub-gateway[postgres]'"
        ) from None
    return psycopg


def _first_line(exc: Exception) -> str:
    lines = str(exc).strip().splitlines()
    return lines[0] if lines else type(exc).__name__


def lock_key(name: str) -> int:
    """A stable signed 64-bit advisory-lock key for ``name``."""
    return int.from_bytes(hashlib.sha256(name.encode()).digest()[:8], "big", signed=True)


def redacted(url: str) -> str:
    """``url`` without its password, for messages and logs."""
    parts = urlsplit(url)
    host = parts.hostname or "localhost"
    port = f":{parts.port}" if parts.port else ""
    user = f"{parts.username}@" if parts.username else ""
    return f"postgresql://{user}{host}{port}{parts.path}"


SCHEMA_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,40}$")
PREFIX = re.compile(r"^[a-z_][a-z0-9_]{0,20}$")


def split_url(url: str) -> tuple[str, str]:
    """The URL psycopg connects to, and the hub's own ``schema_prefix`` parameter taken out
    of it (several hub clusters in one database, each with its own schemas)."""
    parts = urlsplit(url)
    if parts.scheme not in ("postgresql", "postgres"):
        raise StartupError(
            f"database_url: expected postgresql://user:password@host:5432/db, got {redacted(url)!r}"
        )
    query = parse_qsl(parts.query, keep_blank_values=True)
    prefix = "".join(v for k, v in query if k == "schema_prefix")
    if prefix and not PREFIX.match(prefix):
        raise StartupError(
            f"database_url: schema_prefix {prefix!r}: lower-case letters, digits and _ only"
        )
    rest = urlencode([(k, v) for k, v in query if k != "schema_prefix"])
    return urlunsplit(parts._replace(query=rest)), prefix


def _loose_typing(adapters: Any) -> None:
    """SQLite's loose typing where queries rely on it: numbers and booleans go as untyped
    literals that take the type of what they meet (a ``BIGINT`` column, a ``TEXT`` one), and
    ``sum``'s NUMERIC comes back as an int or a float."""
    from psycopg.adapt import Dumper, Loader

    class Untyped(Dumper):
        oid = 0

        def dump(self, obj: Any) -> bytes:
            if isinstance(obj, bool):
                return b"1" if obj else b"0"
            return repr(obj).encode() if isinstance(obj, float) else str(obj).encode()

    class Number(Loader):
        def load(self, data: Any) -> int | float:
            value = Decimal(bytes(data).decode())
            return int(value) if value == value.to_integral_value() else float(value)

    for kind in (int, float, bool):
        adapters.register_dumper(kind, Untyped)
    adapters.register_loader("numeric", Number)


class PostgresServer:
    """One PostgreSQL database the hub keeps its schemas in: its URL, the shared functions,
    and the adapters every connection uses. ``statement_timeout``: seconds a statement on a
    data connection may run (0: no limit), the setting ``database_statement_timeout``."""

    def __init__(self, url: str, statement_timeout: float = STATEMENT_TIMEOUT) -> None:
        self.url, self.schema_prefix = split_url(url)
        self.psycopg = _import_psycopg()
        self.statement_timeout = statement_timeout
        self._prepared: set[str] = set()

    @property
    def statement_timeout_ms(self) -> int:
        """As PostgreSQL takes it: a positive setting is never rounded down to 0 (no limit)."""
        if self.statement_timeout <= 0:
            return 0
        return max(1, round(self.statement_timeout * 1000))

    @property
    def location(self) -> str:
        prefix = f"?schema_prefix={self.schema_prefix}" if self.schema_prefix else ""
        return redacted(self.url) + prefix

    def connect(self) -> Any:
        """A connection of the hub's (a plugin's schema, ``hub db copy``'s checks): a lock
        waited for as long as SQLite would (then "locked", a 503), and no statement holding the
        event loop past ``statement_timeout`` (cancelled, a 503)."""
        conn = self.psycopg.connect(self.url, autocommit=True, prepare_threshold=None, **CONNECT)
        _loose_typing(conn.adapters)
        self.bound(conn)
        return conn

    def bound(self, conn: Any) -> None:
        """The lock and statement timeouts of every hub connection, the event bus's too: a lock
        waited for as long as SQLite would, no statement past ``statement_timeout``."""
        conn.execute(f"SET lock_timeout = '{BUSY_TIMEOUT_MS}ms'")
        conn.execute(f"SET statement_timeout = '{self.statement_timeout_ms}ms'")

    def prepare(self, conn: Any, schema: str) -> None:
        """The schema and its version row, and the dialect's functions, made once, under a
        lock: hubs starting together would otherwise race on the catalogue."""
        if schema in self._prepared:
            return
        conn.execute("SELECT pg_advisory_lock(%s)", (lock_key("hub:catalogue"),))
        try:
            conn.execute(f"CREATE SCHEMA IF NOT EXISTS {dialect.SCHEMA}")
            if dialect.SCHEMA not in self._prepared:
                conn.execute(dialect.FUNCTIONS)
                self._prepared.add(dialect.SCHEMA)
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(
                f'CREATE TABLE IF NOT EXISTS "{schema}"._hub_data_version (n BIGINT NOT NULL)'
            )
            conn.execute(
                f'INSERT INTO "{schema}"._hub_data_version (n) SELECT 0'
                f' WHERE NOT EXISTS (SELECT 1 FROM "{schema}"._hub_data_version)'
            )
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (lock_key("hub:catalogue"),))
        self._prepared.add(schema)


class PostgresDatabase(Database):
    """One plugin's schema. Statements run on this process's connection for the schema;
    :meth:`write` is ``BEGIN`` plus the schema's advisory lock, and bumps the schema's
    ``_hub_data_version`` so that other hubs' caches see the change."""

    engine = "postgresql"

    def __init__(self, server: PostgresServer, name: str, fresh: bool = False) -> None:
        """``fresh``: a connection of its own that never creates the schema (a probe's)."""
        super().__init__(name)
        if not SCHEMA_NAME.match(name):
            raise StartupError(f"database {name!r}: not a usable schema name")
        self.schema = server.schema_prefix + name
        self.server = server
        self._conn: Any = None
        self._failed_at = 0.0
        self._lock = threading.RLock()
        self._write_key = lock_key(f"hub:write:{self.schema}")
        self._fresh = fresh
        try:
            self._connection()
        except DatabaseUnavailable as exc:
            if fresh:
                raise
            raise StartupError(f"cannot reach the database: {exc}") from None

    @property
    def location(self) -> str:
        return f"{self.server.location} (schema {self.schema})"

    def _connection(self) -> Any:
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        if self._depth:
            raise self._unavailable("the connection was lost during a transaction")
        if time.monotonic() - self._failed_at < RETRY_AFTER_FAILURE:
            raise self._unavailable("the last attempt to connect failed")
        psycopg = self.server.psycopg
        try:
            conn = self.server.connect()
            if self._fresh:
                self._exists(conn)
            else:
                self.server.prepare(conn, self.schema)
            conn.execute(f'SET search_path TO "{self.schema}", {dialect.SCHEMA}')
        except psycopg.Error as exc:
            self._failed_at = time.monotonic()
            raise self._unavailable(_first_line(exc)) from None
        self._conn = conn
        return conn

    def _exists(self, conn: Any) -> None:
        found = conn.execute(
            "SELECT 1 FROM information_schema.schemata WHERE schema_name = %s", (self.schema,)
        ).fetchone()
        if found is None:
            conn.close()
            raise StorageError(f"{self.location}: the schema is gone")

    def _unavailable(self, detail: str) -> DatabaseUnavailable:
        return DatabaseUnavailable(self.location, detail)

    def _cancelled(self, exc: Exception) -> DatabaseUnavailable:
        """A statement PostgreSQL cancelled, past ``database_statement_timeout`` (or by an
        operator): the connection still works, the request gets the outage's 503, and the
        log one line naming it."""
        error = self._unavailable(_first_line(exc))
        log.warning(
            "%s (database_statement_timeout %g s); answered as unavailable",
            error,
            self.server.statement_timeout,
        )
        return error

    def _run(self, call: Any, retry: bool = True) -> Any:
        """``call(connection)``, with the driver's errors as the host's. A connection found
        dead outside a transaction (the server restarted while it idled) is replaced and the
        statement tried once more: outside ``write()`` it is a read or a ``BEGIN``, which the
        dead connection cannot have run. Never a ``COMMIT`` (``retry=False``): its transaction
        died with the connection, and a client must not be told it was kept."""
        psycopg = self.server.psycopg
        for attempt in (1, 2):
            conn = self._connection()
            try:
                return call(conn)
            except psycopg.IntegrityError as exc:
                raise IntegrityError(str(exc).strip()) from exc
            except UnicodeEncodeError as exc:  # text that is not UTF-8 (a lone surrogate)
                raise UnstorableValue(str(exc)) from exc
            except psycopg.DataError as exc:
                # a value PostgreSQL cannot store or compare (a NUL in text, an integer past
                # 64 bits, which SQLite refuses too): the caller's input, a 400 in the plugin's
                # shape, not a 500
                raise UnstorableValue(_first_line(exc)) from exc
            except psycopg.Error as exc:
                alive = not (conn.broken or conn.closed)
                busy = isinstance(exc, psycopg.errors.LockNotAvailable)
                lost = not alive or isinstance(exc, psycopg.OperationalError)
                if busy and alive:
                    raise storage_busy(self.location, _first_line(exc)) from exc
                if isinstance(exc, psycopg.errors.QueryCanceled) and alive:
                    # not tried again: it would hold the event loop as long once more
                    raise self._cancelled(exc) from None
                if not lost:
                    missing = isinstance(exc, psycopg.errors.UndefinedTable)
                    kind = MissingTable if missing else StorageError
                    raise kind(str(exc).strip()) from exc
                if attempt == 2 or self._depth or not retry:
                    raise self._unavailable(_first_line(exc)) from None
                conn.close()
        raise AssertionError("unreachable")

    def execute(self, sql: str, params: Params = ()) -> Cursor:
        query = dialect.translate(sql)
        with self._lock:
            return self._run(lambda conn: conn.execute(query, params))  # type: ignore[no-any-return]

    def executemany(self, sql: str, rows: Iterable[Params]) -> None:
        query = dialect.translate(sql)
        with self._lock:
            self._run(lambda conn: conn.cursor().executemany(query, list(rows)))

    def data_version(self) -> int:
        return int(self.execute("SELECT n FROM _hub_data_version").fetchone()[0])

    @contextlib.contextmanager
    def fresh(self) -> Iterator[Database]:
        fresh = PostgresDatabase(self.server, self.name, fresh=True)
        try:
            yield fresh
        finally:
            fresh.close()

    def _begin(self) -> None:
        self._lock.acquire()
        try:
            self._run(
                lambda conn: conn.execute(f"BEGIN; SELECT pg_advisory_xact_lock({self._write_key})")
            )
        except BaseException:
            self._rollback()  # the lock was not granted: end the transaction it began
            raise

    def _commit(self) -> None:
        try:
            self._run(
                lambda conn: conn.execute("UPDATE _hub_data_version SET n = n + 1; COMMIT"),
                retry=False,
            )
        except BaseException:
            # refused on a live connection (cancelled, busy), the transaction is still open,
            # aborted: every later statement here would fail until it is ended
            self._rollback()
            raise
        self._lock.release()

    def _rollback(self) -> None:
        try:
            conn = self._conn
            if conn is not None and not conn.closed and not conn.broken:
                with contextlib.suppress(self.server.psycopg.Error):
                    conn.execute("ROLLBACK")
        finally:
            self._lock.release()

    @contextlib.contextmanager
    def _migration_lock(self) -> Iterator[None]:
        """Hubs take turns; migrations run, and wait for their turn, without the statement
        and lock timeouts: one cut short (an index built over a large table) would fail every
        start of the hub in the same place, and a hub starting meanwhile waits for it rather
        than failing as busy after the lock timeout."""
        key = lock_key(f"hub:migrate:{self.schema}")
        self.execute("SET statement_timeout = 0")
        self.execute("SET lock_timeout = 0")
        try:
            if not self.execute("SELECT pg_try_advisory_lock(?)", (key,)).fetchone()[0]:
                log.info("%s: waiting for another hub's migrations", self.location)
                self.execute("SELECT pg_advisory_lock(?)", (key,))
            try:
                yield
            finally:
                with contextlib.suppress(StorageError, DatabaseUnavailable):
                    self.execute("SELECT pg_advisory_unlock(?)", (key,))
        finally:
            with contextlib.suppress(StorageError, DatabaseUnavailable):
                self._run(self.server.bound)  # every hub connection's timeouts, back

    def tables(self) -> list[str]:
        rows = self.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = ?"
            " ORDER BY table_name",
            (self.schema,),
        ).fetchall()
        return [row[0] for row in rows if row[0] != "_hub_data_version"]

    def columns(self, table: str) -> list[str]:
        rows = self.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
            (self.schema, table),
        ).fetchall()
        return [row[0] for row in rows]

    def close(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None

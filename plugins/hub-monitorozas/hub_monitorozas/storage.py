"""Where devices, blacklist monitors and check results live: the migrations and every query.
Each device and monitor row keeps its caller-facing JSON in ``doc``, rewritten from the row's
columns after every write (the same bytes on either engine), so REST lists join stored text
without decoding, and GraphQL and gRPC lists render each stored row once (``StoredPage``). Both
lists are ordered by ``id``, a unique key, so their GraphQL cursors seek."""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, fields
from typing import Any, Generic, TypeVar

import orjson

from hub.errors import HubError
from hub.paging import Keyset, Page, Slice, SortKey
from hub.records import ISO_Z, to_json
from hub.storage import Database
from hub_monitorozas.checks import Outcome
from hub_monitorozas.dnsbl import Verdict
from hub_monitorozas.records import BlacklistMonitor, CheckResult, Device

R = TypeVar("R")
BY_ID = Keyset((SortKey("id", "id"),))


def now() -> str:
    """Now, as the plugin stores instants: ``2026-05-01T12:00:00Z``."""
    return ISO_Z.format(time.time())


# -- migrations ---------------------------------------------------------------------------------
def m001_monitorozas(db: Any) -> None:
    db.execute(
        "CREATE TABLE users (id INTEGER PRIMARY KEY AUTOINCREMENT, name TEXT NOT NULL UNIQUE,"
        " created_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE api_keys (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL REFERENCES users(id), created_at REAL NOT NULL)"
    )
    db.execute(
        "CREATE TABLE devices (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL REFERENCES users(id),"
        " target_type TEXT NOT NULL, target_value TEXT NOT NULL, service_type TEXT NOT NULL,"
        " scheme TEXT, port INTEGER NOT NULL, host_header TEXT, proxy_enabled INTEGER NOT NULL,"
        " origin_host TEXT, origin_scheme TEXT, origin_port INTEGER,"
        " check_public_http INTEGER NOT NULL, check_public_https INTEGER NOT NULL,"
        " check_public_tls INTEGER NOT NULL, check_origin_http INTEGER NOT NULL,"
        " check_origin_tls INTEGER NOT NULL, expect_status INTEGER NOT NULL,"
        " location TEXT NOT NULL, is_enabled INTEGER NOT NULL,"
        " last_status TEXT NOT NULL DEFAULT 'unknown', last_check_at TEXT,"
        " last_response_ms INTEGER, last_error TEXT, tls_expires_at TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, next_check_at REAL NOT NULL,"
        " doc TEXT NOT NULL DEFAULT '{}')"
    )
    # the seed's duplicate rule; a non-web device has no scheme, hence the coalesce
    db.execute(
        "CREATE UNIQUE INDEX devices_identity ON devices (user_id, target_type, target_value,"
        " service_type, coalesce(scheme, ''), port)"
    )
    db.execute("CREATE INDEX devices_due ON devices (next_check_at) WHERE is_enabled = 1")
    db.execute(
        "CREATE TABLE device_checks (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " device_id INTEGER NOT NULL REFERENCES devices(id) ON DELETE CASCADE,"
        " checked_at TEXT NOT NULL, status TEXT NOT NULL, response_ms INTEGER,"
        " error TEXT, tls_expires_at TEXT, checks TEXT NOT NULL)"
    )
    db.execute("CREATE INDEX device_checks_device ON device_checks (device_id, id)")
    db.execute(
        "CREATE TABLE blacklist_monitors (id INTEGER PRIMARY KEY AUTOINCREMENT,"
        " user_id INTEGER NOT NULL REFERENCES users(id),"
        " target_type TEXT NOT NULL, target_value TEXT NOT NULL, is_enabled INTEGER NOT NULL,"
        " last_status TEXT NOT NULL DEFAULT 'unknown', last_check_at TEXT,"
        " listed_on TEXT NOT NULL DEFAULT '[]', last_error TEXT,"
        " created_at TEXT NOT NULL, updated_at TEXT NOT NULL, next_check_at REAL NOT NULL,"
        " doc TEXT NOT NULL DEFAULT '{}', UNIQUE (user_id, target_type, target_value))"
    )
    db.execute(
        "CREATE INDEX blacklist_monitors_due ON blacklist_monitors (next_check_at)"
        " WHERE is_enabled = 1"
    )


def m002_listing_codes(db: Any) -> None:
    """The return codes of each listing: ``[{"zone", "codes"}]`` beside ``listed_on``."""
    db.execute("ALTER TABLE blacklist_monitors ADD COLUMN listings TEXT NOT NULL DEFAULT '[]'")
    db.execute("UPDATE blacklist_monitors SET doc = json_set(doc, '$.listings', json('[]'))")


def m003_check_leases(db: Any) -> None:
    """Devices and blacklist monitors are the rows of the host's work queue ``checks``
    (``next_check_at`` its due time): its attempt and lease columns."""
    for table in ("devices", "blacklist_monitors"):
        db.execute(f"ALTER TABLE {table} ADD COLUMN attempts INTEGER NOT NULL DEFAULT 0")
        db.execute(f"ALTER TABLE {table} ADD COLUMN claimed_until REAL")
        db.execute(f"ALTER TABLE {table} ADD COLUMN claimed_by TEXT")


MIGRATIONS = [m001_monitorozas, m002_listing_codes, m003_check_leases]


# -- devices and blacklist monitors -------------------------------------------------------------
@dataclass(frozen=True)
class Kind(Generic[R]):
    """One of the two tables callers own rows of: its caller-facing columns (the record's
    fields, in its order) and how a stored ``doc`` becomes the record."""

    table: str
    record: Callable[[dict[str, Any]], R]
    columns: tuple[str, ...]
    json_columns: tuple[str, ...] = ()  # stored as JSON text, in the doc as JSON values

    def refresh_doc(self, db: Database, ident: int) -> None:
        """Rewrite row ``ident``'s ``doc`` from its columns, in the record's field order."""
        row = db.execute(
            f"SELECT {', '.join(self.columns)} FROM {self.table} WHERE id = ?", (ident,)
        ).fetchone()
        if row is None:
            return
        doc = {
            column: orjson.loads(value) if column in self.json_columns else value
            for column, value in zip(self.columns, row, strict=True)
        }
        db.execute(
            f"UPDATE {self.table} SET doc = ? WHERE id = ?", (orjson.dumps(doc).decode(), ident)
        )

    def decode(self, doc: bytes) -> R:
        return self.record(orjson.loads(doc))


DEVICES = Kind("devices", Device.of, tuple(f.name for f in fields(Device)))
MONITORS = Kind(
    "blacklist_monitors",
    BlacklistMonitor.of,
    tuple(f.name for f in fields(BlacklistMonitor)),
    ("listed_on", "listings"),
)


@dataclass(frozen=True)
class StoredPage(Generic[R]):
    """One page, with what the host's keyset read found beside them: the hub's own rows as
    stored (``stored``, each row's JSON ``doc``; its ``Kind.decode`` makes the record), or the
    vendor's records (``records``, upstream mode). GraphQL and gRPC render a stored row once and
    reuse the rendering while its bytes stay the same, so no record is made for it then."""

    records: Sequence[R]  # the vendor's; empty for a page of stored rows
    found: Slice
    stored: list[bytes] | None = None

    @property
    def total(self) -> int:
        """Every row the caller owns."""
        return self.found.total or 0

    @property
    def ids(self) -> list[int]:
        """Each row's id, its unique key (both lists are ordered by it alone)."""
        return [key[0] for key in self.found.keys]


def _owned(owner: int | None) -> tuple[str, tuple[Any, ...]]:
    """The condition for one user's rows; none for every user's (``owner`` None)."""
    return ("", ()) if owner is None else (" AND user_id = ?", (owner,))


def docs(database: Database, kind: Kind[Any], owner: int | None, page: Page | None) -> list[bytes]:
    """The owner's rows as their stored JSON, by id: every row, or the page asked for."""
    where, params = _owned(owner)
    tail = ""
    if page is not None:
        params, tail = (*params, page.limit, page.offset), " LIMIT ? OFFSET ?"
    rows = database.execute(
        f"SELECT CAST(doc AS BLOB) FROM {kind.table} WHERE 1 = 1{where} ORDER BY id{tail}", params
    ).fetchall()
    return [row[0] for row in rows]


def page_of(
    database: Database,
    kind: Kind[R],
    owner: int | None,
    page: Page,
    error: Callable[[str], HubError],
) -> StoredPage[R]:
    """One page by id, after a keyset cursor (a seek) or from an offset, with the total."""
    found = BY_ID.read(
        database,
        page,
        select="CAST(doc AS BLOB)",
        source=kind.table,
        where=() if owner is None else ("user_id = ?",),
        params=() if owner is None else (owner,),
        error=error,
    )
    return StoredPage((), found, [row[0] for row in found.rows])


def find(database: Database, kind: Kind[R], ident: int, owner: int | None = None) -> R | None:
    where, params = _owned(owner)
    row = database.execute(
        f"SELECT CAST(doc AS BLOB) FROM {kind.table} WHERE id = ?{where}", (ident, *params)
    ).fetchone()
    return None if row is None else kind.decode(row[0])


def insert(
    database: Database, kind: Kind[Any], values: dict[str, Any], first_check: Callable[[int], float]
) -> int:
    """A new row, created and updated now, first due at ``first_check(id)``; raises
    :class:`hub.storage.IntegrityError` for a duplicate."""
    stamp = now()
    values = {**values, "created_at": stamp, "updated_at": stamp, "next_check_at": 0.0}
    with database.write() as db:
        ident = db.execute(
            f"INSERT INTO {kind.table} ({', '.join(values)})"
            f" VALUES ({', '.join('?' * len(values))}) RETURNING id",
            tuple(values.values()),
        ).fetchone()[0]
        db.execute(
            f"UPDATE {kind.table} SET next_check_at = ? WHERE id = ?", (first_check(ident), ident)
        )
        kind.refresh_doc(db, ident)
    return ident


def delete(database: Database, kind: Kind[Any], ident: int, owner: int | None) -> bool:
    where, params = _owned(owner)
    with database.write() as db:
        return bool(
            db.execute(f"DELETE FROM {kind.table} WHERE id = ?{where}", (ident, *params)).rowcount
        )


def user_exists(database: Database, user_id: int) -> bool:
    return database.execute("SELECT 1 FROM users WHERE id = ?", (user_id,)).fetchone() is not None


def counts(database: Database) -> tuple[int, int]:
    row = database.execute(
        "SELECT (SELECT count(*) FROM devices), (SELECT count(*) FROM blacklist_monitors)"
    ).fetchone()
    return int(row[0]), int(row[1])


# -- check results ------------------------------------------------------------------------------
def history(database: Database, device_id: int, size: int) -> list[CheckResult]:
    """The device's newest ``size`` results, newest first."""
    rows = database.execute(
        "SELECT checked_at, status, response_ms, error, tls_expires_at, checks"
        " FROM device_checks WHERE device_id = ? ORDER BY id DESC LIMIT ?",
        (device_id, size),
    ).fetchall()
    names = ("checked_at", "status", "response_ms", "error", "tls_expires_at")
    return [
        CheckResult.of({**dict(zip(names, row[:5], strict=True)), "checks": orjson.loads(row[5])})
        for row in rows
    ]


def store_device_check(db: Any, device_id: int, check: Outcome, keep: int) -> str | None:
    """The check as the device's last and in its history (the newest ``keep`` stay), in the
    caller's transaction; returns the status before, or None for a device deleted meanwhile."""
    row = db.execute("SELECT last_status FROM devices WHERE id = ?", (device_id,)).fetchone()
    if row is None:
        return None
    checked_at = now()
    db.execute(
        "UPDATE devices SET last_status = ?, last_check_at = ?, last_response_ms = ?,"
        " last_error = ?, tls_expires_at = coalesce(?, tls_expires_at) WHERE id = ?",
        (
            check.status,
            checked_at,
            check.response_ms,
            check.error,
            check.tls_expires_at,
            device_id,
        ),
    )
    DEVICES.refresh_doc(db, device_id)
    db.execute(
        "INSERT INTO device_checks (device_id, checked_at, status, response_ms, error,"
        " tls_expires_at, checks) VALUES (?, ?, ?, ?, ?, ?, ?)",
        (
            device_id,
            checked_at,
            check.status,
            check.response_ms,
            check.error,
            check.tls_expires_at,
            orjson.dumps(to_json(check.checks)).decode(),
        ),
    )
    db.execute(
        "DELETE FROM device_checks WHERE device_id = ? AND id <= (SELECT id FROM"
        " device_checks WHERE device_id = ? ORDER BY id DESC LIMIT 1 OFFSET ?)",
        (device_id, device_id, keep),
    )
    return str(row[0])


def blacklist_round_columns(verdict: Verdict) -> dict[str, Any]:
    """The columns a DNSBL round sets (the work queue writes them as it settles the round)."""
    return {
        "last_status": verdict.status,
        "last_check_at": now(),
        "listed_on": orjson.dumps(verdict.listed_on).decode(),
        "listings": orjson.dumps(verdict.listings).decode(),
        "last_error": verdict.error,
    }

"""``<data-dir>/rop.db`` (or the schema ``rop``): calls, their audio, the office structure,
managers, checklists, tables, results, and the two work queues of the host (``hub.queue``): the
webhook outbox and the downloads. Also how every list of rop is read a page at a time."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Generic, TypeVar

from hub.paging import Keyset, Page, SortKey
from hub.queue import QUEUE_COLUMNS
from hub.storage import Database
from hub_rop.audio_store import AudioStore
from hub_rop.errors import bad_request

T = TypeVar("T")
CREATION_ORDER = Keyset((SortKey("seq", "seq"),))  # every list: oldest first; seq is unique


def m001_calls(db: Any) -> None:
    db.execute(
        "CREATE TABLE calls (seq INTEGER PRIMARY KEY AUTOINCREMENT, call_id TEXT NOT NULL UNIQUE,"
        " manager_id TEXT NOT NULL, deal_id TEXT NOT NULL, deal_stage_id TEXT NOT NULL,"
        " audio_url TEXT NOT NULL, declared_duration REAL, status TEXT NOT NULL,"
        " reason TEXT, detail TEXT, format TEXT, size_bytes INTEGER, duration REAL,"
        " audio_path TEXT, claimed_until REAL, created_at REAL NOT NULL, updated_at REAL NOT NULL,"
        " analyzed_at REAL)"
    )
    db.execute("CREATE INDEX calls_status ON calls (status, seq)")


def m002_structure(db: Any) -> None:
    db.execute(
        "CREATE TABLE offices (position INTEGER NOT NULL, office_id TEXT PRIMARY KEY,"
        " office_title TEXT NOT NULL)"
    )
    db.execute(
        "CREATE TABLE office_members (office_id TEXT NOT NULL REFERENCES offices ON DELETE"
        " CASCADE, role TEXT NOT NULL, member_id TEXT NOT NULL, position INTEGER NOT NULL,"
        " PRIMARY KEY (office_id, role, member_id))"
    )
    db.execute(
        "CREATE TABLE managers (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " manager_id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, surname TEXT NOT NULL,"
        " middlename TEXT NOT NULL, updated_at REAL NOT NULL)"
    )


def m003_analysis(db: Any) -> None:
    db.execute(
        "CREATE TABLE checklists (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL, stages TEXT NOT NULL, webhook_url TEXT, webhook_secret TEXT)"
    )
    db.execute(
        "CREATE TABLE analytic_tables (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE, name TEXT NOT NULL, fields TEXT NOT NULL, webhook_url TEXT,"
        " webhook_secret TEXT)"
    )
    db.execute(
        "CREATE TABLE checklist_results (call_id TEXT NOT NULL, checklist_id TEXT NOT NULL,"
        " result TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (call_id, checklist_id))"
    )
    db.execute(
        "CREATE TABLE table_results (call_id TEXT NOT NULL, table_id TEXT NOT NULL,"
        " result TEXT NOT NULL, created_at REAL NOT NULL, PRIMARY KEY (call_id, table_id))"
    )


def m004_webhooks(db: Any) -> None:
    db.execute(
        "CREATE TABLE webhook_deliveries (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
        " id TEXT NOT NULL UNIQUE, event TEXT NOT NULL, call_id TEXT NOT NULL,"
        " target_kind TEXT NOT NULL, target_id TEXT NOT NULL, url TEXT NOT NULL,"
        " secret TEXT NOT NULL, body BLOB NOT NULL, status TEXT NOT NULL,"
        " attempts INTEGER NOT NULL DEFAULT 0, next_attempt_at REAL NOT NULL,"
        " claimed_until REAL, last_status INTEGER, last_error TEXT, created_at REAL NOT NULL,"
        " delivered_at REAL, dead_at REAL)"
    )
    db.execute(
        "CREATE INDEX webhook_due ON webhook_deliveries (status, next_attempt_at)"
        " WHERE status = 'pending'"
    )


def m005_work_queues(db: Any) -> None:
    """The host's work queue takes over: deliveries gain its lease owner; waiting downloads,
    until now calls in ``downloading`` leased through ``calls.claimed_until``, move to a queue
    table of their own (due at once: a lease of the old version is dropped)."""
    db.execute("ALTER TABLE webhook_deliveries ADD COLUMN claimed_by TEXT")
    db.execute(
        "CREATE TABLE audio_downloads (call_id TEXT PRIMARY KEY REFERENCES calls (call_id),"
        f" {QUEUE_COLUMNS})"
    )
    db.execute("CREATE INDEX audio_downloads_due ON audio_downloads (status, next_attempt_at)")
    db.execute(
        "INSERT INTO audio_downloads (call_id, next_attempt_at)"
        " SELECT call_id, created_at FROM calls WHERE status = 'downloading' ORDER BY seq"
    )
    db.execute("ALTER TABLE calls DROP COLUMN claimed_until")


def m006_receivers(db: Any) -> None:
    """Upstream mode: where ROP posts its results, one receiver per checklist or table, found
    by the SHA-256 of its path token (the token itself is shown once, when it is made)."""
    db.execute(
        "CREATE TABLE receivers (seq INTEGER PRIMARY KEY AUTOINCREMENT, kind TEXT NOT NULL,"
        " target_id TEXT NOT NULL, token_hash TEXT NOT NULL UNIQUE, created_at REAL NOT NULL,"
        " received INTEGER NOT NULL DEFAULT 0, last_received_at REAL, UNIQUE (kind, target_id))"
    )
    for kind in ("checklist", "table"):  # what ROP posted (canonical JSON), to know a repeat
        db.execute(f"ALTER TABLE {kind}_results ADD COLUMN received_digest TEXT")


def m007_audio_chunks(db: Any) -> None:
    """Downloaded audio moves from ``<data-dir>/rop-audio/`` into the database, in chunks
    (``hub_rop.audio_store``). ``calls.audio_path`` now names only a file of an older version
    not yet moved: :func:`import_audio_files` moves those at each start."""
    db.execute(
        "CREATE TABLE audio_chunks (call_id TEXT NOT NULL, seq INTEGER NOT NULL,"
        " data BLOB NOT NULL, PRIMARY KEY (call_id, seq))"
    )


MIGRATIONS = [
    m001_calls,
    m002_structure,
    m003_analysis,
    m004_webhooks,
    m005_work_queues,
    m006_receivers,
    m007_audio_chunks,
]


def import_audio_files(database: Database, directory: Path) -> None:
    """Move the recordings an older version kept in ``directory`` into the database, each in
    one transaction and deleted once it committed; then delete what is left there (partial
    downloads, files of calls already moved or gone) and the directory itself. A file named by
    a call and not found here stays named: with several hubs on one database it is on another
    hub's disk, and that hub moves it when it starts."""
    if not directory.is_dir():
        return
    store = AudioStore(database)
    rows = database.execute(
        "SELECT call_id, audio_path FROM calls WHERE audio_path IS NOT NULL"
    ).fetchall()
    for call_id, audio_path in rows:
        source = directory / Path(audio_path).name  # the data directory may have moved
        with database.write() as db:  # another worker may be moving the same files
            waiting = db.execute(
                "SELECT 1 FROM calls WHERE call_id = ? AND audio_path IS NOT NULL", (call_id,)
            ).fetchone()
            if waiting is None or not source.is_file():
                continue
            store.import_file(call_id, source)
            db.execute("UPDATE calls SET audio_path = NULL WHERE call_id = ?", (call_id,))
        source.unlink(missing_ok=True)
    for leftover in directory.iterdir():
        if leftover.is_file():
            leftover.unlink(missing_ok=True)
    with contextlib.suppress(OSError):  # not empty: something else was put there
        directory.rmdir()


@dataclass(frozen=True)
class Listing(Generic[T]):
    """One page of a list. Each of ``rows`` is the whole of one item as stored (a tuple of
    column values) and ``record`` makes the item of it, a pure function of the row alone: so
    GraphQL keeps each row's rendering and reuses it for every equal row
    (``hub.graphql.stored``)."""

    rows: Sequence[tuple[Any, ...]]
    record: Callable[[Any], T]
    ids: Sequence[int]  # each row's seq, its primary key
    total: int  # every matching row, whatever the page
    cursors: Sequence[str]  # each item's keyset cursor, for GraphQL
    has_next: bool  # more rows follow this page

    @property
    def items(self) -> list[T]:
        return [self.record(row) for row in self.rows]


def read_page(
    database: Database,
    table: str,
    columns: str,
    page: Page,
    record: Callable[[Any], T],
    where: str = "",
    params: list[Any] | None = None,
) -> Listing[T]:
    """One page of ``table`` in creation order: after a keyset cursor's row (a seek), or from an
    offset. ``where`` (with ``params``) filters; ``record`` turns a row of ``columns`` into an
    item."""
    read = CREATION_ORDER.read(
        database,
        page,
        select=columns,
        source=table,
        where=[where] if where else [],
        params=params or [],
        error=bad_request,
    )
    ids = [seq for (seq,) in read.keys]
    return Listing(read.rows, record, ids, read.total or 0, read.cursors(), read.has_next)

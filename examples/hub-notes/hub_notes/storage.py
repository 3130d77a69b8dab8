"""The ``notes`` table and its queries. Notes list in creation order, by the unique ``seq``, so
a page after a cursor is a seek: a deep page costs what the first one does."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from hub.paging import Keyset, Page, SortKey
from hub.records import instant
from hub.storage import Database
from hub_notes.errors import bad_request
from hub_notes.records import Note

COLUMNS = "id, title, body, created_at, expires_at"
LIVE = "(expires_at IS NULL OR expires_at > ?)"
ORDER = Keyset((SortKey("seq", "seq"),))  # oldest first; seq is unique


def m001_notes(db: Any) -> None:
    db.execute(
        "CREATE TABLE notes (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " title TEXT NOT NULL, body TEXT NOT NULL, created_at REAL NOT NULL, expires_at REAL)"
    )
    db.execute("CREATE INDEX notes_expires_at ON notes (expires_at) WHERE expires_at IS NOT NULL")


MIGRATIONS = [m001_notes]


def note_of(row: Any) -> Note:
    """A row of :data:`COLUMNS` (times as epoch seconds) as the record."""
    ident, title, body, created_at, expires_at = row[:5]
    return Note(
        ident, title, body, instant(created_at), instant(expires_at) if expires_at else None
    )


@dataclass(frozen=True)
class NotePage:
    notes: list[Note]
    total: int  # live notes in all, whatever the page
    cursors: Sequence[str]  # each note's keyset cursor, for GraphQL
    has_next: bool  # more notes follow this page


def live_notes(database: Database, page: Page, now: float) -> NotePage:
    """Live notes, oldest first: after a keyset cursor's note, or from an offset."""
    read = ORDER.read(
        database,
        page,
        select=COLUMNS,
        source="notes",
        where=[LIVE],
        params=[now],
        error=bad_request,
    )
    notes = [note_of(row) for row in read.rows]
    return NotePage(notes, read.total or 0, read.cursors(), read.has_next)

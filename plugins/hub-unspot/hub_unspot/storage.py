"""unspot's tables, the three kinds of monitored entity and the queries of its users. Counts
are never stored: every number the API reports is a ``count(*)`` over these rows."""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hub.paging import Keyset, Page, SortKey
from hub.storage import Database
from hub_unspot.errors import bad_request
from hub_unspot.records import (
    Calendar,
    CalendarCounts,
    Counts,
    Display,
    Entity,
    User,
    Webhook,
    WebhookCounts,
)

MAX_NAME = 255  # characters of a user's or an entity's name
USERS_ORDER = Keyset((SortKey("seq", "seq"),))  # creation order, by the unique row number


@dataclass(frozen=True)
class Kind:
    """Displays, calendars and webhooks share one shape: an id, a label and a status."""

    table: str
    singular: str
    label: str  # the second column: "name", or "url" for webhooks
    statuses: tuple[str, ...]
    record: Callable[..., Entity]  # one row, as the service returns it
    counts: Callable[..., Counts] | None  # the per-status counts; None: listed, not counted


DISPLAYS = Kind("displays", "display", "name", ("online", "offline"), Display, None)
CALENDARS = Kind("calendars", "calendar", "name", ("online", "offline"), Calendar, CalendarCounts)
WEBHOOKS = Kind(
    "webhooks", "webhook", "url", ("online", "failed", "disabled"), Webhook, WebhookCounts
)
KINDS = (DISPLAYS, CALENDARS, WEBHOOKS)


def m001_unspot(db: Any) -> None:
    db.execute(
        "CREATE TABLE users (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " name TEXT NOT NULL, role TEXT NOT NULL, created_at REAL NOT NULL)"
    )
    for kind in KINDS:
        allowed = ", ".join(f"'{s}'" for s in kind.statuses)
        db.execute(
            f"CREATE TABLE {kind.table} (seq INTEGER PRIMARY KEY AUTOINCREMENT,"
            f" id TEXT NOT NULL UNIQUE, {kind.label} TEXT NOT NULL,"
            f" status TEXT NOT NULL CHECK (status IN ({allowed})))"
        )
    db.execute(
        "CREATE TABLE user_sync (id INTEGER PRIMARY KEY CHECK (id = 1),"
        " enabled INTEGER NOT NULL, last_sync_at INTEGER)"
    )
    db.execute("INSERT INTO user_sync (id, enabled, last_sync_at) VALUES (1, 0, NULL)")


MIGRATIONS = [m001_unspot]


def first_row(database: Database, sql: str, params: tuple[Any, ...] = ()) -> Any:
    """The first row, or None. Read with ``fetchall`` so the statement runs to its end and lets
    go of its read snapshot at once: a half-read statement pins the connection to an old
    snapshot, hiding users that ``hub creds add`` (another process) commits later."""
    rows = database.execute(sql, params).fetchall()
    return rows[0] if rows else None


def find_user(database: Database, user_id: Any) -> User | None:
    row = first_row(database, "SELECT id, name, role FROM users WHERE id = ?", (str(user_id),))
    return None if row is None else User(*row)


def insert_user(database: Database, role: str, name: str) -> str:
    user_id = str(uuid.uuid4())
    with database.write() as db:
        db.execute(
            "INSERT INTO users (id, name, role, created_at) VALUES (?, ?, ?, ?)",
            (user_id, name, role, time.time()),
        )
    return user_id


def delete_user(database: Database, user_id: Any) -> bool:
    with database.write() as db:
        return bool(db.execute("DELETE FROM users WHERE id = ?", (str(user_id),)).rowcount)


@dataclass(frozen=True)
class UserPage:
    users: list[User]
    total: int  # every user, whatever the page
    cursors: Sequence[str]  # each user's keyset cursor
    has_next: bool  # more users follow this page


def read_users(database: Database, page: Page) -> UserPage:
    """One page in creation order: after a keyset cursor's user (a seek), or from an offset."""
    read = USERS_ORDER.read(
        database, page, select="id, name, role", source="users", error=bad_request
    )
    return UserPage(
        [User(*row) for row in read.rows], read.total or 0, read.cursors(), read.has_next
    )

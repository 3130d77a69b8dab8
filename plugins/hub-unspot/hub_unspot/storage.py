"""unspot's tables and the three kinds of monitored entity. Counts are never stored: every
number the API reports is a ``count(*)`` over these rows."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from hub_unspot.records import (
    Calendar,
    CalendarCounts,
    Counts,
    Display,
    Entity,
    Webhook,
    WebhookCounts,
)


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

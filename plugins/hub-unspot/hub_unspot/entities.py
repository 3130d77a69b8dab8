"""Displays, calendars and webhooks, written by the admin operations: each write checks what
was sent and returns the entity as stored with its status before the write (None: new), so
that the service can announce display status changes."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from hub.errors import HubError
from hub.storage import Database
from hub.urls import http_url_fault
from hub_unspot.errors import bad_request, error
from hub_unspot.records import Entity
from hub_unspot.storage import MAX_NAME, Kind, first_row

ID_PATTERN = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
ID_ALPHABET = string.ascii_letters + string.digits
MAX_URL = 2048

Written = tuple[Entity, str | None]  # the entity as stored, and its status before the write


def _text(data: dict[str, Any], key: str, limit: int) -> str:
    value = data[key]
    if not isinstance(value, str) or not value.strip():
        raise bad_request(f"{key}: expected a non-empty string")
    if len(value) > limit:
        raise bad_request(f"{key}: longer than {limit} characters")
    if "\x00" in value:  # PostgreSQL's text cannot hold one: refused alike on every engine
        raise bad_request(f"{key}: must not contain NUL (\\u0000)")
    return value


def _url(data: dict[str, Any]) -> str:
    value = _text(data, "url", MAX_URL)
    fault = http_url_fault(value)
    if fault is not None:
        raise bad_request(f"url: {fault}")
    return value


def _status(kind: Kind, value: Any) -> str:
    if value not in kind.statuses:
        raise bad_request(f"status: expected one of {', '.join(kind.statuses)}, got {value!r}")
    return str(value)


def _entity_id(value: Any) -> str:
    if not isinstance(value, str) or not ID_PATTERN.match(value):
        raise bad_request("id: expected 1-64 characters of letters, digits, '_', '.' or '-'")
    return value


def _missing(kind: Kind, ident: Any) -> HubError:
    return error(404, f"id: no {kind.singular} {ident!r}", f"{kind.singular}_not_found")


def upsert(database: Database, kind: Kind, data: Any) -> Written:
    """Create or change one entity. ``data`` is the dict a REST body would be: ``id`` (left
    out: a new entity with a generated id), the label (``name``, or ``url`` for webhooks) and
    ``status``, both required when the entity is new."""
    if not isinstance(data, dict):
        raise bad_request(f"body: expected an object with id, {kind.label} and status")
    for key in data:
        if key not in ("id", kind.label, "status"):
            raise bad_request(f"{key}: unknown field of a {kind.singular}")
    changes: dict[str, str] = {}
    if kind.label in data:
        changes[kind.label] = (
            _url(data) if kind.label == "url" else _text(data, kind.label, MAX_NAME)
        )
    if "status" in data:
        changes["status"] = _status(kind, data["status"])
    ident = _entity_id(data["id"]) if "id" in data else None
    with database.write() as db:
        row = None
        entity: dict[str, str]
        if ident is not None:
            row = first_row(
                database, f"SELECT {kind.label}, status FROM {kind.table} WHERE id = ?", (ident,)
            )
        if row is None:
            for required in (kind.label, "status"):
                if required not in changes:
                    raise bad_request(f"{required}: required for a new {kind.singular}")
            ident = ident or "".join(secrets.choice(ID_ALPHABET) for _ in range(12))
            db.execute(
                f"INSERT INTO {kind.table} (id, {kind.label}, status) VALUES (?, ?, ?)",
                (ident, changes[kind.label], changes["status"]),
            )
            previous = None
            entity = {"id": ident, **{k: changes[k] for k in (kind.label, "status")}}
        else:
            previous = row[1]
            entity = {"id": str(ident), kind.label: row[0], "status": row[1], **changes}
            db.execute(
                f"UPDATE {kind.table} SET {kind.label} = ?, status = ? WHERE id = ?",
                (entity[kind.label], entity["status"], ident),
            )
    return kind.record(**entity), previous


def set_status(database: Database, kind: Kind, ident: Any, status: Any) -> Written:
    status = _status(kind, status)
    with database.write() as db:
        row = first_row(
            database, f"SELECT {kind.label}, status FROM {kind.table} WHERE id = ?", (str(ident),)
        )
        if row is None:
            raise _missing(kind, ident)
        db.execute(f"UPDATE {kind.table} SET status = ? WHERE id = ?", (status, str(ident)))
    return kind.record(str(ident), row[0], status), row[1]


def delete(database: Database, kind: Kind, ident: Any) -> str:
    with database.write() as db:
        if db.execute(f"DELETE FROM {kind.table} WHERE id = ?", (str(ident),)).rowcount == 0:
            raise _missing(kind, ident)
    return str(ident)

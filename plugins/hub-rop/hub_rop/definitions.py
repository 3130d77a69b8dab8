"""Checklists and analytic tables, the admin state results are made against: one table each,
the parts (stages or fields) as JSON, and the webhook endpoint results are posted to."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import orjson

from hub.storage import Database
from hub_rop import inputs
from hub_rop.errors import error
from hub_rop.records import Checklist, Stage, Table, TableField

Definition = Checklist | Table


@dataclass(frozen=True)
class Kind:
    name: str  # what results and deliveries call it: checklist | table
    table: str
    prefix: str  # of a made-up id: CHK_1755863365
    parts: str  # the column of its stages or fields
    check: Callable[[Any], dict[str, Any]]  # what an admin sends, checked
    record: Callable[[str, str, list[dict[str, Any]], str | None], Definition]  # a stored row


def _checklist(ident: str, name: str, stages: list[dict[str, Any]], url: str | None) -> Checklist:
    return Checklist(ident, name, tuple(Stage(**s) for s in stages), url)


def _table(ident: str, name: str, fields: list[dict[str, Any]], url: str | None) -> Table:
    return Table(ident, name, tuple(TableField(**f) for f in fields), url)


CHECKLISTS = Kind("checklist", "checklists", "CHK", "stages", inputs.checklist, _checklist)
TABLES = Kind("table", "analytic_tables", "TBL", "fields", inputs.table, _table)
KINDS = {kind.name: kind for kind in (CHECKLISTS, TABLES)}


@dataclass(frozen=True)
class Endpoint:
    url: str
    secret: str


class Definitions:
    def __init__(self, database: Database) -> None:
        self.database = database

    def _select(self, kind: Kind, where: str = "", params: tuple[Any, ...] = ()) -> list[Any]:
        return self.database.execute(
            f"SELECT id, name, {kind.parts}, webhook_url FROM {kind.table}{where} ORDER BY seq",
            params,
        ).fetchall()

    @staticmethod
    def _record(kind: Kind, row: Any) -> Definition:
        return kind.record(row[0], row[1], orjson.loads(row[2]), row[3])

    def get(self, kind: Kind, ident: str) -> Definition | None:
        rows = self._select(kind, " WHERE id = ?", (ident,))
        return self._record(kind, rows[0]) if rows else None

    def all(self, kind: Kind) -> list[Definition]:
        return [self._record(kind, row) for row in self._select(kind)]

    def endpoint(self, db: Any, kind: Kind, ident: str) -> Endpoint | None:
        """Where results against it are posted, and the secret that signs them; ``db`` is the
        transaction that reads it."""
        row = db.execute(
            f"SELECT webhook_url, webhook_secret FROM {kind.table} WHERE id = ?", (ident,)
        ).fetchone()
        return Endpoint(row[0], row[1]) if row is not None and row[0] else None

    def put(self, kind: Kind, data: Any) -> Definition:
        """Create (an id like ``TBL_1755863365`` unless one is given) or replace by id."""
        item = kind.check(data)
        with self.database.write() as db:
            ident = item["id"]
            stored = (
                db.execute(
                    f"SELECT webhook_secret FROM {kind.table} WHERE id = ?", (ident,)
                ).fetchone()
                if ident
                else None
            )
            url, secret = inputs.webhook(data, stored[0] if stored else None)
            if ident is None:
                stamp = int(time.time())
                while self.get(kind, f"{kind.prefix}_{stamp}") is not None:
                    stamp += 1
                ident = f"{kind.prefix}_{stamp}"
            parts = kind.parts
            db.execute(
                f"INSERT INTO {kind.table} (id, name, {parts}, webhook_url, webhook_secret)"
                " VALUES (?, ?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET name = excluded.name,"
                f" {parts} = excluded.{parts}, webhook_url = excluded.webhook_url,"
                " webhook_secret = excluded.webhook_secret",
                (ident, item["name"], orjson.dumps(item[parts]).decode(), url, secret),
            )
        made = self.get(kind, ident)
        assert made is not None
        return made

    def delete(self, kind: Kind, ident: str) -> str:
        """Results already made for it stay, and so do their deliveries."""
        with self.database.write() as db:
            if db.execute(f"DELETE FROM {kind.table} WHERE id = ?", (ident,)).rowcount == 0:
                raise error(404, f"id: no {kind.name} {ident!r}")
        return ident

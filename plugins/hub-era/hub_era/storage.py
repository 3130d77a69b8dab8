"""Where channels live: one row each, the canonical JSON in ``data`` (the seed's field order,
so a plain list is served by joining stored text) beside the unique keys; ``filter`` and
``order`` run in SQL on ``json_extract``, every order ending with the unique ``seq``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import orjson

from hub import paging
from hub_era.errors import bad_request
from hub_era.fields import OPTS, Order, field_path, holds_nul
from hub_era.records import IntegrationPoint

TABLE = "integration_points"


def m001_integration_points(db: Any) -> None:
    db.execute(
        f"CREATE TABLE {TABLE} (seq INTEGER PRIMARY KEY AUTOINCREMENT, id TEXT NOT NULL UNIQUE,"
        " code TEXT NOT NULL UNIQUE, token_local TEXT NOT NULL UNIQUE, data TEXT NOT NULL)"
    )


MIGRATIONS = [m001_integration_points]


@dataclass(frozen=True)
class StoredPage:
    items: list[bytes]  # canonical JSON of each channel, as stored
    read: paging.Slice  # the total, each item's sort key and whether another page follows

    @property
    def total(self) -> int | None:
        return self.read.total

    @property
    def has_next(self) -> bool:
        return self.read.has_next

    @property
    def stored(self) -> list[bytes]:
        return self.items

    @property
    def ids(self) -> list[int]:
        """Each channel's ``seq``, unique (every sort key ends with it)."""
        return [key[-1] for key in self.read.keys]

    def records(self) -> list[IntegrationPoint]:
        return [record_of(item) for item in self.items]

    def cursors(self) -> Sequence[str]:
        return self.read.cursors()


def record_of(stored: bytes) -> IntegrationPoint:
    """A channel from its stored JSON."""
    return IntegrationPoint.of(orjson.loads(stored))


def json_path(path: str) -> str:
    return "$." + path


def keyset(order: Sequence[Order]) -> paging.Keyset:
    """``order``'s fields (a repeated field cannot change the order), then the unique ``seq``.
    Each path is one of :data:`LEAVES`, so it is written into the SQL as a literal."""
    terms: dict[str, bool] = {}  # path -> descending
    for o in order:
        path = field_path(o.field, what="order")
        if path in ("opts", "ext"):
            raise bad_request("order: sort by a leaf field such as opts.title or ext.ct")
        terms.setdefault(path, o.desc)
    return paging.Keyset(
        (
            *(
                paging.SortKey(path, f"json_extract(data, '{json_path(path)}')", desc)
                for path, desc in terms.items()
            ),
            paging.SortKey("seq", "seq"),
        )
    )


def where(filter: Any) -> tuple[list[str], list[Any]]:
    """SQL conditions (and their parameters) for REST's and GraphQL's ``filter``."""
    if not isinstance(filter, dict):
        raise bad_request("filter: expected a JSON object of field -> value")
    clauses, params = [], []
    for name, value in filter.items():
        path = field_path(name, what="filter")
        if path in ("opts", "ext"):
            raise bad_request(f"filter: {name!r} is an object; filter on {name}.<field>")
        values = value if isinstance(value, list) else [value]
        for v in values:
            if not isinstance(v, str | bool):  # every field is one of these
                raise bad_request(f"filter.{name}: expected a string, boolean or a list of them")
        # a value of the other type matches nothing (PostgreSQL reads every value as text:
        # true and "true" would be one there), nor does a string with a NUL (none is stored)
        kind = OPTS.get(path.removeprefix("opts."), str) if path.startswith("opts.") else str
        values = [
            v for v in values if type(v) is kind and not (isinstance(v, str) and holds_nul(v))
        ]
        if not values:
            clauses.append("1 = 0")
            continue
        # one parameter however long the list: SQLite caps the number of parameters
        clauses.append("json_extract(data, ?) IN (SELECT value FROM json_each(?))")
        params.extend([json_path(path), orjson.dumps(values).decode()])
    return clauses, params

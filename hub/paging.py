"""The one paging type of the hub: every list of every plugin, over every protocol, is asked for
as a :class:`Page`. REST and gRPC send ``offset``/``limit``, GraphQL ``first``/``after``; both
map onto the same bounds: an offset of 0 or more, a limit from 0 (the total count only) to
:data:`MAX_LIMIT`, :data:`DEFAULT_LIMIT` when the caller sends none. Each plugin passes its own
error factory, so a bad value is a 400 in that plugin's error shape, naming the argument as the
caller spelt it (``limit``, ``first``, ``after``).

A list whose order ends with a unique key is a :class:`Keyset`: its GraphQL cursors hold the
last row's sort key, and the next page is a seek (``WHERE (k1, k2) > (?, ?)``) instead of an
``OFFSET``, so a deep page costs what the first one does and rows written between two pages
are neither repeated nor skipped. Other lists (a plugin's in-memory lists) keep offset cursors.
A cursor is ``base64url(JSON)`` without padding, versioned, and checked in full on decode."""

from __future__ import annotations

import base64
import binascii
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, overload

import orjson

from hub.errors import HubError

if TYPE_CHECKING:
    from hub.storage import Database

DEFAULT_LIMIT = 100
MAX_LIMIT = 1000
MAX_OFFSET = 2**63 - 1  # SQLite's largest integer
CURSOR_VERSION = 1
MAX_CURSOR = 65536  # characters: a sort key of a few long strings fits; anything longer is not ours

ErrorFactory = Callable[[str], HubError]


def bad_argument(message: str) -> HubError:
    return HubError(400, message, reason="bad_argument")


@dataclass(frozen=True)
class SortKey:
    """One term of a list's order. ``sql`` is an expression over the plugin's table that is
    never NULL (a column, or a function of columns written by the plugin: never caller text);
    ``name`` is how cursors spell it."""

    name: str
    sql: str
    desc: bool = False

    @property
    def signed(self) -> str:
        return f"-{self.name}" if self.desc else self.name


@dataclass(frozen=True)
class Seek:
    """A keyset cursor, decoded: the order it was made for and the last row's sort key."""

    order: tuple[str, ...]
    key: tuple[Any, ...]


@dataclass(frozen=True)
class Keyset:
    """An order whose last term is unique, so every row has its own place: the list can seek."""

    terms: tuple[SortKey, ...]

    def order_by(self) -> str:
        return ", ".join(f"{t.sql} {'DESC' if t.desc else 'ASC'}" for t in self.terms)

    def columns(self) -> str:
        """The sort key expressions, to select beside each row for its cursor."""
        return ", ".join(t.sql for t in self.terms)

    def cursor(self, key: Sequence[Any]) -> str:
        order = [t.signed for t in self.terms]
        return _encode({"v": CURSOR_VERSION, "order": order, "key": list(key)})

    def seek(self, after: Seek, error: ErrorFactory = bad_argument) -> tuple[str, list[Any]]:
        """The SQL condition (and its parameters) for the rows after ``after``; a cursor made
        for another order is ``error`` naming ``after``."""
        if after.order != tuple(t.signed for t in self.terms):
            raise error("after: a cursor from a list in another order")
        if all(t.desc == self.terms[0].desc for t in self.terms):  # one row-value comparison
            columns = ", ".join(t.sql for t in self.terms)
            marks = ", ".join("?" * len(self.terms))
            return f"({columns}) {'<' if self.terms[0].desc else '>'} ({marks})", list(after.key)
        # mixed directions: k1 beyond, or k1 equal and k2 beyond, or ...
        alternatives: list[str] = []
        params: list[Any] = []
        for i, term in enumerate(self.terms):
            equal = [f"{t.sql} = ?" for t in self.terms[:i]]
            alternatives.append(
                "(" + " AND ".join([*equal, f"{term.sql} {'<' if term.desc else '>'} ?"]) + ")"
            )
            params.extend(after.key[: i + 1])
        return "(" + " OR ".join(alternatives) + ")", params

    def read(
        self,
        database: Database,
        page: Page,
        *,
        select: str,
        source: str,
        where: Sequence[str] = (),
        params: Sequence[Any] = (),
        error: ErrorFactory = bad_argument,
        count: bool = True,
    ) -> Slice:
        """One page of ``SELECT select FROM source WHERE where`` in this order: after a keyset
        cursor's row (a seek), or from an offset. ``count`` also counts every match, in the same
        statement as the page (one snapshot: the total always agrees with the rows beside it);
        only a page with no row needs a ``count(*)`` of its own. One row more than asked is read,
        to tell whether another page follows."""
        clauses, values = list(where), list(params)
        if page.after is not None:
            seek, seek_params = self.seek(page.after, error)
            clauses, values = [*clauses, seek], [*values, *seek_params]
        matching = _where(clauses)
        counting = ""
        if count:  # an uncorrelated subquery: SQLite runs it once per statement
            counting = f", (SELECT count(*) FROM {source}{_where(where)})"
            values = [*params, *values]
        rows = database.execute(
            f"SELECT {select}, {self.columns()}{counting} FROM {source}{matching}"
            f" ORDER BY {self.order_by()} LIMIT ? OFFSET ?",
            [*values, page.limit + 1, page.offset],
        ).fetchall()
        total = None
        if count:
            if rows:
                total = int(rows[0][-1])
            elif page.after is None and not page.offset:
                total = 0
            else:  # past the last row: nothing carried the count
                counted = f"SELECT count(*) FROM {source}{_where(where)}"
                total = int(database.execute(counted, list(params)).fetchone()[0])
        shown, width = rows[: page.limit], len(self.terms)
        # split by column in C (a page may be 1,000 rows), the count's column left out
        columns = list(zip(*shown, strict=True))[: -1 if count else None]
        return Slice(
            list(zip(*columns[:-width], strict=True)) if shown else [],
            total,
            list(zip(*columns[-width:], strict=True)) if shown else [],
            self,
            len(rows) > len(shown),
        )


def _where(clauses: Sequence[str]) -> str:
    return " WHERE " + " AND ".join(clauses) if clauses else ""


@dataclass(frozen=True)
class Slice:
    """A page read by :meth:`Keyset.read`: the selected columns of each row, every match's
    count (``None`` when not counted), each row's sort key, and whether another page follows."""

    rows: list[tuple[Any, ...]]
    total: int | None
    keys: list[tuple[Any, ...]]
    keyset: Keyset
    has_next: bool

    def cursors(self) -> Cursors:
        """Each row's keyset cursor, each made when read (REST and gRPC answers carry none, and
        a GraphQL answer only those it selects)."""
        keyset, keys = self.keyset, self.keys
        return Cursors(len(keys), lambda i: keyset.cursor(keys[i]))


class Cursors(Sequence[str]):
    """The cursors of a page's rows, each made by ``make(index)`` when it is read: a page of
    thousands of rows must not encode a cursor per row for an answer that shows none."""

    def __init__(self, length: int, make: Callable[[int], str]) -> None:
        self.length = length
        self.make = make

    def __len__(self) -> int:
        return self.length

    @overload
    def __getitem__(self, index: int) -> str: ...

    @overload
    def __getitem__(self, index: slice) -> list[str]: ...

    def __getitem__(self, index: int | slice) -> str | list[str]:
        if isinstance(index, slice):
            return [self.make(i) for i in range(self.length)[index]]
        return self.make(range(self.length)[index])


@dataclass(frozen=True)
class Page:
    """What the caller asked for: ``limit`` rows from ``offset``, or after ``after`` (a keyset
    cursor's row; then ``offset`` is 0)."""

    offset: int = 0
    limit: int = DEFAULT_LIMIT
    after: Seek | None = None

    @classmethod
    def of(
        cls,
        offset: int | None,
        limit: int | None,
        error: ErrorFactory = bad_argument,
        *,
        offset_name: str = "offset",
        limit_name: str = "limit",
        default: int = DEFAULT_LIMIT,
    ) -> Page:
        """REST's and gRPC's ``offset``/``limit``, or ``error(message)`` for a value out of
        bounds."""
        offset = 0 if offset is None else offset
        limit = default if limit is None else limit
        if not _integer(offset) or not 0 <= offset <= MAX_OFFSET:
            raise error(f"{offset_name}: must be between 0 and {MAX_OFFSET}")
        if not _integer(limit) or not 0 <= limit <= MAX_LIMIT:
            raise error(f"{limit_name}: must be between 0 and {MAX_LIMIT}")
        return cls(offset, limit)

    @classmethod
    def relay(
        cls,
        first: int | None,
        after: str | None,
        error: ErrorFactory = bad_argument,
        *,
        seekable: bool = False,
    ) -> Page:
        """GraphQL's ``first``/``after``, under the same bounds. Only a ``seekable`` list (one
        that pages by :class:`Keyset`) takes a keyset cursor; every list takes offset ones."""
        cursor = decode_cursor(after, error) if after else 0  # "" is the start, as no cursor
        if isinstance(cursor, Seek):
            if not seekable:
                raise error("after: a cursor from a list in another order")
            return cls(0, Page.of(0, first, error, limit_name="first").limit, cursor)
        if cursor >= MAX_OFFSET:  # a position past the last one SQLite can reach
            raise error(f"after: not a cursor from this API: {after!r}")
        start = cursor + 1 if after else 0
        return Page.of(start, first, error, offset_name="after", limit_name="first")


def offset_cursor(offset: int) -> str:
    return _encode({"v": CURSOR_VERSION, "offset": offset})


def decode_cursor(cursor: Any, error: ErrorFactory = bad_argument) -> int | Seek:
    """The offset or :class:`Seek` a cursor of this API holds; anything else, however it was
    damaged, is ``error`` naming ``after``."""
    data = _decode(cursor)
    if isinstance(data, dict) and _integer(data.get("v")) and data["v"] == CURSOR_VERSION:
        if data.keys() == {"v", "offset"} and _integer(data["offset"]):
            if 0 <= data["offset"] <= MAX_OFFSET:
                return int(data["offset"])
        elif data.keys() == {"v", "order", "key"}:
            order, key = data["order"], data["key"]
            if (
                isinstance(order, list)
                and isinstance(key, list)
                and order
                and len(order) == len(key)
                and all(isinstance(name, str) and name for name in order)
                and all(_scalar(value) for value in key)
            ):
                return Seek(tuple(order), tuple(key))
    shown = cursor if isinstance(cursor, str) and len(cursor) <= 200 else "..."
    raise error(f"after: not a cursor from this API: {shown!r}")


def _encode(data: dict[str, Any]) -> str:
    return base64.urlsafe_b64encode(orjson.dumps(data)).rstrip(b"=").decode("ascii")


def _decode(cursor: Any) -> Any:
    if not isinstance(cursor, str) or not cursor or len(cursor) > MAX_CURSOR:
        return None
    try:
        raw = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True)
        return orjson.loads(raw)
    except (binascii.Error, ValueError, UnicodeEncodeError):
        return None


def _integer(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _scalar(value: Any) -> bool:
    """A sort key value SQLite compares as the plugin stored it: text, a 64-bit integer or a
    finite real (never NULL: sort keys are never NULL, and NULL compares to nothing)."""
    if _integer(value):
        return bool(-(2**63) <= value <= MAX_OFFSET)
    return isinstance(value, str) or (isinstance(value, float) and math.isfinite(value))
